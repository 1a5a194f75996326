#include <libxml/xmlversion.h>
// Debian builds libxml2 with ICU; its headers would then include <unicode/ucnv.h>, whose enums
// clash with the ICU copy Foundation ships. ciblage never touches the encoding handler structs
// (only pointers to them), so the ICU members can stay hidden.
#undef LIBXML_ICU_ENABLED
#include <libxml/xmlreader.h>
#include <libxml/xmlschemas.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

// libxml2 prints some messages (schema internals such as "Unimplemented block at
// xmlschemas.c") through its generic error function, straight to stderr. ciblage collects what
// matters through structured handlers and says it in French; the rest is silenced. The
// function is variadic, which Swift cannot define, hence this C helper.
static void ciblage_xml_silent(void *context, const char *message, ...) {
    (void)context;
    (void)message;
}

/// Silences libxml2's generic error output for this thread and for threads created later.
static inline void ciblage_xml_silence_generic_errors(void) {
    xmlSetGenericErrorFunc(NULL, ciblage_xml_silent);
    xmlThrDefSetGenericErrorFunc(NULL, ciblage_xml_silent);
}
