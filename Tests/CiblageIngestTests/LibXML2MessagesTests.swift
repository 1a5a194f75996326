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
            SchemaMessage.fileReason(
                #"Element '{urn:sppe:declarations:1}exportDeclarations', attribute 'caf': [facet 'pattern'] The value 'XX' is not accepted by the pattern '[0-9]{2}|2[AB]|97[0-9]'."#),
            "attribut « caf » : code de Caf invalide : « XX » (attendu : un code de département)")
        XCTAssertEqual(
            SchemaMessage.fileReason("Element 'exportDeclarations': No matching global declaration available for the validation root."),
            "élément racine « exportDeclarations » hors de l'espace de noms urn:sppe:declarations:1 (xmlns absent ou autre)")
        XCTAssertEqual(
            SchemaMessage.fileReason("Element '{urn:autre}racine': No matching global declaration available for the validation root."),
            "élément racine inattendu : « racine » (attendu : exportDeclarations, espace de noms urn:sppe:declarations:1)")
    }

    func testARefusedRootNamesItsAttribute() {
        XCTAssertEqual(
            SchemaMessage.fileReason(
                "Element '{urn:sppe:declarations:1}exportDeclarations', attribute 'dateExport': '2025-13-01' is not a valid value of the atomic type 'xs:date'."),
            "attribut « dateExport » : date invalide : « 2025-13-01 » (attendu aaaa-mm-jj)")
        XCTAssertEqual(
            SchemaMessage.fileReason("Element '{urn:sppe:declarations:1}exportDeclarations': The attribute 'caf' is required but missing."),
            "attribut obligatoire absent : « caf »")
    }

    func testAMessageOfAnotherFormIsKeptWholeAfterWhatItIs() {
        XCTAssertEqual(SchemaMessage.reason("Something else."), "non conforme au schéma XSD : Something else.")
        XCTAssertEqual(SchemaMessage.reason("Element '{ns}etp': Something new."), "non conforme au schéma XSD : Element '{ns}etp': Something new.")
        XCTAssertEqual(SchemaMessage.field("Element '{ns}etp': Something new."), "etp")
        XCTAssertEqual(SchemaMessage.field("texte hors de tout élément declaration"), "")
        XCTAssertEqual(ParserMessage.describe(code: 9_999, "Odd"), "« Odd »")
    }
}
