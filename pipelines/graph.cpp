#include "graph.h"

#include "util/gstptr.h"

#include <glib/gstdio.h>
#include <unistd.h>

#include <filesystem>

namespace livepipe::pipelines {

bool write_graph(GstBin *bin, const std::string &path, std::string *error) {
  constexpr auto kDetails =
      GstDebugGraphDetails(GST_DEBUG_GRAPH_SHOW_MEDIA_TYPE | GST_DEBUG_GRAPH_SHOW_CAPS_DETAILS |
                           GST_DEBUG_GRAPH_SHOW_NON_DEFAULT_PARAMS | GST_DEBUG_GRAPH_SHOW_STATES);
  GCharPtr dot(gst_debug_bin_to_dot_data(bin, kDetails));
  if (!dot) {
    *error = "GStreamer gave no graph (built without debugging support?)";
    return false;
  }
  std::string extension = std::filesystem::path(path).extension().string();
  GError *gerror = nullptr;
  if (extension == ".dot" || extension == ".gv") {
    if (!g_file_set_contents(path.c_str(), dot.get(), -1, &gerror)) {
      *error = gerror->message;
      g_error_free(gerror);
      return false;
    }
    return true;
  }
  std::string format = extension.empty() ? "svg" : extension.substr(1);
  gchar *dot_path = nullptr;
  int fd = g_file_open_tmp("livepipe-graph-XXXXXX.dot", &dot_path, &gerror);
  if (fd < 0) {
    *error = gerror->message;
    g_error_free(gerror);
    return false;
  }
  GCharPtr owned_dot_path(dot_path);
  close(fd);
  bool ok = g_file_set_contents(dot_path, dot.get(), -1, &gerror);
  if (ok) {
    std::string type = "-T" + format;
    std::string output = "-o" + path;
    const char *argv[] = {"dot", type.c_str(), output.c_str(), dot_path, nullptr};
    gchar *err_text = nullptr;
    gint status = 0;
    ok = g_spawn_sync(nullptr, const_cast<gchar **>(argv), nullptr, G_SPAWN_SEARCH_PATH, nullptr,
                      nullptr, nullptr, &err_text, &status, &gerror);
    GCharPtr owned_err(err_text);
    if (!ok) {
      *error = std::string("cannot run graphviz's dot: ") + gerror->message;
    } else if (!g_spawn_check_wait_status(status, nullptr)) {
      ok = false;
      *error = std::string("dot failed: ") + (err_text ? err_text : "");
    }
  } else {
    *error = gerror->message;
  }
  g_clear_error(&gerror);
  g_unlink(dot_path);
  return ok;
}

}  // namespace livepipe::pipelines
