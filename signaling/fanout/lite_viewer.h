// The shared-socket fan-out engine as the service's viewer transport
// (media/viewer.h): each WHEP or WebSocket viewer becomes a Peer of one
// Engine instead of a webrtcbin of its own.
#pragma once

#include "engine.h"
#include "viewer.h"

#include <memory>

namespace livepipe::signaling::fanout {

class SharedSocketViewerFactory : public media::ViewerTransportFactory {
 public:
  explicit SharedSocketViewerFactory(std::shared_ptr<Engine> engine) : engine_(std::move(engine)) {}
  std::unique_ptr<media::ViewerTransport> create(const std::string &name,
                                                 media::ViewerTransport::Events events,
                                                 std::string *error) override;
  Engine &engine() const { return *engine_; }

 private:
  std::shared_ptr<Engine> engine_;
};

}  // namespace livepipe::signaling::fanout
