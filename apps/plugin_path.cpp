#include "plugin_path.h"

#include <gst/gst.h>

#include <filesystem>
#include <system_error>

namespace livepipe::apps {

void register_own_plugin(const char *argv0) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) {
    exe = fs::absolute(argv0, ec);
  }
  const fs::path candidates[] = {
      exe.parent_path().parent_path() / "elements",  // build tree: build/apps/livepipe
      fs::path(LIVEPIPE_INSTALLED_PLUGIN_DIR),
  };
  for (const auto &dir : candidates) {
    if (fs::exists(dir / "libgstlivepipe.so", ec)) {
      gst_registry_scan_path(gst_registry_get(), dir.c_str());
      return;
    }
  }
}

}  // namespace livepipe::apps
