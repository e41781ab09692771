#include "icerestart.h"

#include "util/gstptr.h"

#include <nice/agent.h>

#include <cstring>

namespace livepipe::signaling::media {
namespace {

// webrtcbin numbers its libnice streams from 1, one per transport; with
// max-bundle only one carries media.
constexpr guint kMaxStreams = 16;

struct Agent {
  NiceAgent *agent = nullptr;
  guint stream = 0;
  ~Agent() {
    if (agent) {
      g_object_unref(agent);
    }
  }
};

bool find_agent(GstElement *webrtcbin, Agent &out, std::string *error) {
  GObject *ice = nullptr;
  g_object_get(webrtcbin, "ice-agent", &ice, nullptr);
  if (!ice || !g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "agent")) {
    if (ice) {
      g_object_unref(ice);
    }
    *error = "webrtcbin's ICE implementation is not libnice";
    return false;
  }
  g_object_get(ice, "agent", &out.agent, nullptr);
  g_object_unref(ice);
  if (!out.agent) {
    *error = "webrtcbin has no libnice agent";
    return false;
  }
  guint first = 0;
  for (guint id = 1; id <= kMaxStreams && !out.stream; ++id) {
    gchar *ufrag = nullptr, *pwd = nullptr;
    if (!nice_agent_get_local_credentials(out.agent, id, &ufrag, &pwd)) {
      continue;
    }
    g_free(ufrag);
    g_free(pwd);
    first = first ? first : id;
    NiceCandidate *local = nullptr, *remote = nullptr;
    if (nice_agent_get_selected_pair(out.agent, id, 1, &local, &remote)) {
      out.stream = id;
    }
  }
  out.stream = out.stream ? out.stream : first;
  if (!out.stream) {
    *error = "the session has no ICE stream yet";
    return false;
  }
  return true;
}

}  // namespace

std::optional<IceParams> restart_ice(GstElement *webrtcbin, const IceParams *remote,
                                     std::string *error) {
  Agent a;
  if (!find_agent(webrtcbin, a, error)) {
    return std::nullopt;
  }
  if (!nice_agent_restart_stream(a.agent, a.stream)) {
    *error = "libnice refused to restart the ICE stream";
    return std::nullopt;
  }
  if (remote && !nice_agent_set_remote_credentials(a.agent, a.stream, remote->ufrag.c_str(),
                                                   remote->pwd.c_str())) {
    *error = "libnice refused the new remote credentials";
    return std::nullopt;
  }
  IceParams local;
  gchar *ufrag = nullptr, *pwd = nullptr;
  if (!nice_agent_get_local_credentials(a.agent, a.stream, &ufrag, &pwd)) {
    *error = "the restarted ICE stream has no credentials";
    return std::nullopt;
  }
  local.ufrag = ufrag;
  local.pwd = pwd;
  local.stream = a.stream;
  g_free(ufrag);
  g_free(pwd);
  // The gathered candidates stay; only the credentials and checks are new.
  GSList *candidates = nice_agent_get_local_candidates(a.agent, a.stream, 1);
  for (GSList *l = candidates; l; l = l->next) {
    auto *candidate = static_cast<NiceCandidate *>(l->data);
    if (gchar *sdp = nice_agent_generate_local_candidate_sdp(a.agent, candidate)) {
      local.candidates.emplace_back(std::strncmp(sdp, "a=", 2) == 0 ? sdp + 2 : sdp);
      g_free(sdp);
    }
  }
  g_slist_free_full(candidates, reinterpret_cast<GDestroyNotify>(nice_candidate_free));
  return local;
}

bool set_remote_ice(GstElement *webrtcbin, unsigned stream, const std::string &ufrag,
                    const std::string &pwd, std::string *error) {
  Agent a;
  if (!find_agent(webrtcbin, a, error)) {
    return false;
  }
  if (!nice_agent_set_remote_credentials(a.agent, stream, ufrag.c_str(), pwd.c_str())) {
    *error = "libnice refused the new remote credentials";
    return false;
  }
  return true;
}

bool disable_upnp(GstElement *webrtcbin) {
  GObject *ice = nullptr;
  g_object_get(webrtcbin, "ice-agent", &ice, nullptr);
  if (!ice || !g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "agent")) {
    if (ice) {
      g_object_unref(ice);
    }
    return false;
  }
  NiceAgent *agent = nullptr;
  g_object_get(ice, "agent", &agent, nullptr);
  g_object_unref(ice);
  if (!agent) {
    return false;
  }
  g_object_set(agent, "upnp", FALSE, nullptr);
  g_object_unref(agent);
  return true;
}

}  // namespace livepipe::signaling::media
