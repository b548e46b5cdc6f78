// The module is its header's inline function; SwiftPM builds a C target only from a source file.
#include "CPrefetch.h"
