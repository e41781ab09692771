// How a viewer receives a stream. The stream hands every viewer the same RTP
// packets (payloaded once); a transport only carries them to its client.
// This is the seam where a shared-socket fan-out engine can replace the first
// implementation, one webrtcbin per viewer.
#pragma once

#include "answerer.h"
#include "icerestart.h"
#include "offer.h"

#include <gst/gst.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace livepipe::signaling::media {

struct TransportStats {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

class ViewerTransport {
 public:
  struct Events {
    // The transport is gone (ICE failed, the pipeline failed); main context.
    std::function<void(const std::string &reason)> on_closed;
    // The client needs a key frame: it asked (PLI/FIR), or its transport has
    // just become able to carry media; any thread.
    std::function<void()> on_keyframe_request;
  };
  virtual ~ViewerTransport() = default;

  // Answers the client's offer; `done` runs on the main context.
  virtual void answer(const OfferPlan &plan, guint gather_timeout_ms, Answerer::Done done) = 0;
  virtual void add_candidate(unsigned mline, const std::string &candidate) = 0;
  // ICE restart with the client's new credentials; this side's new ones.
  virtual std::optional<IceParams> restart_ice(const IceParams &remote, std::string *error) = 0;
  // One RTP packet of the stream's `kind` track ("video" or "audio"), as the
  // stream payloaded it. Called on a streaming thread; must not block.
  virtual void push(const std::string &kind, GstBuffer *rtp) = 0;
  virtual TransportStats stats() const = 0;
};

// Makes one transport per viewer.
class ViewerTransportFactory {
 public:
  virtual ~ViewerTransportFactory() = default;
  virtual std::unique_ptr<ViewerTransport> create(const std::string &name,
                                                  ViewerTransport::Events events,
                                                  std::string *error) = 0;
};

// One GstPipeline per viewer: an appsrc per track into a webrtcbin, so a
// failing viewer never disturbs the stream or anyone else.
class WebrtcbinViewerFactory : public ViewerTransportFactory {
 public:
  explicit WebrtcbinViewerFactory(std::string stun_server = {},
                                  std::vector<std::string> ice_addresses = {})
      : stun_server_(std::move(stun_server)), ice_addresses_(std::move(ice_addresses)) {}
  std::unique_ptr<ViewerTransport> create(const std::string &name, ViewerTransport::Events events,
                                          std::string *error) override;

 private:
  std::string stun_server_;
  std::vector<std::string> ice_addresses_;
};

}  // namespace livepipe::signaling::media
