// How long-running loops (calibration, an evaluation pass, sensitivity measurements) tell a
// caller how far they are: `what` names the pass, `done` of `total` steps are finished. Called
// on the loop's own thread after each step; an empty function costs nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace qtune {

using ProgressFn = std::function<void(const std::string& what, int64_t done, int64_t total)>;

}  // namespace qtune
