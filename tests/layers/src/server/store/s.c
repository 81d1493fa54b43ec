/* fixture of tests/layers: store may include lib, proto, engine and store, never api */
#include "store.h"
#include "engine.h"
#include "util.h"
#include "api.h"
