/* fixture of tests/layers: an include by path counts too */
#include "server/api/api.h"
#include "store.h"
