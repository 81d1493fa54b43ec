/* fixture of tests/layers: engine may include only lib, proto and engine */
#include "engine.h"
#include "util.h"
#include "store.h"
