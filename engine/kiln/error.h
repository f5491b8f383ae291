// In the source tree kiln/error.h is ir/error.h; `cmake --install` installs
// ir/error.h under this name.
#pragma once
#include "ir/error.h"
