import XCTest

@testable import CiblageIngest

final class LibXML2MessagesTests: XCTestCase {
    func testAValueHoldingQuotesIsShownWhole() {
        let message = #"Element '{urn:sppe:declarations:1}declaration', attribute 'nature': [facet 'enumeration'] The value 'l'an' is not an element of the set {'PREVISIONNEL', 'ACTUALISE', 'REEL'}."#
        XCTAssertEqual(SchemaMessage.field(message), "nature")
        XCTAssertEqual(SchemaMessage.reason(message), "nature de déclaration inconnue : « l'an » (attendu : PREVISIONNEL, ACTUALISE, REEL)")
    }

    func testTheRootsCafAndAnotherRootAreNamed() {
        XCTAssertEqual(
            SchemaMessage.reason(
                #"Element '{urn:sppe:declarations:1}exportDeclarations', attribute 'caf': [facet 'pattern'] The value 'XX' is not accepted by the pattern '[0-9]{2}|2[AB]|97[0-9]'."#),
            "code de Caf invalide : « XX » (attendu : un code de département)")
        XCTAssertEqual(
            SchemaMessage.reason("Element 'exportDeclarations': No matching global declaration available for the validation root."),
            "élément racine inattendu : « exportDeclarations » (attendu : exportDeclarations, espace de noms urn:sppe:declarations:1)")
    }

    func testAMessageOfAnotherFormIsKeptWholeAfterWhatItIs() {
        XCTAssertEqual(SchemaMessage.reason("Something else."), "non conforme au schéma XSD : Something else.")
        XCTAssertEqual(SchemaMessage.reason("Element '{ns}etp': Something new."), "non conforme au schéma XSD : Element '{ns}etp': Something new.")
        XCTAssertEqual(SchemaMessage.field("Element '{ns}etp': Something new."), "etp")
        XCTAssertEqual(SchemaMessage.field("texte hors de tout élément declaration"), "")
        XCTAssertEqual(ParserMessage.describe(code: 9_999, "Odd"), "« Odd »")
    }
}
