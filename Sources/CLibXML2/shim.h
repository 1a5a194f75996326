#include <libxml/xmlversion.h>
// Debian builds libxml2 with ICU; its headers would then include <unicode/ucnv.h>, whose enums
// clash with the ICU copy Foundation ships. ciblage never touches the encoding handler structs
// (only pointers to them), so the ICU members can stay hidden.
#undef LIBXML_ICU_ENABLED
#include <libxml/xmlreader.h>
#include <libxml/xmlschemas.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
