/* fixture of tests/layers: api and workers never include each other */
#include "store.h"
#include "api.h"
#include "workers.h"
