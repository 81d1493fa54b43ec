/* fixture of tests/layers: ping may include lib, proto, engine, store and the base layer, never api or workers */
#include "store.h"
#include "engine.h"
#include "util.h"
#include "api.h"
#include "workers.h"
