#pragma once
// The daemon's logging: Poco's root logger to standard error (journald picks it up), UTC
// ISO 8601 timestamps, as text lines or one JSON object a line.

#include "kc/appliance/Config.h"

namespace kc::daemon {

void configureLogging(const appliance::LogSettings& settings);

}  // namespace kc::daemon
