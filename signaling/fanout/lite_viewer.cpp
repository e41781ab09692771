#include "lite_viewer.h"

#include "util/maincontext.h"

#include <atomic>

namespace livepipe::signaling::fanout {
namespace {

class SharedSocketViewer : public media::ViewerTransport {
 public:
  SharedSocketViewer(std::shared_ptr<Engine> engine, Events events)
      : engine_(std::move(engine)),
        events_(std::move(events)),
        shared_(std::make_shared<Shared>()) {
    shared_->self = this;
    shared_->context = g_main_context_ref_thread_default();
  }

  ~SharedSocketViewer() override {
    if (peer_) {
      peer_->close();
    }
    shared_->self = nullptr;
    g_main_context_unref(shared_->context);
  }

  void answer(const media::OfferPlan &plan, guint, media::Answerer::Done done) override {
    // The engine's candidates are known: nothing to gather, the answer is
    // ready at once. `done` still runs later, from the main loop.
    std::string error;
    Peer::Events events;
    auto shared = shared_;
    events.closed = [shared](const std::string &reason) {
      post_to(shared->context, [shared, reason] {
        if (shared->self && shared->self->events_.on_closed) {
          shared->self->events_.on_closed(reason);
        }
      });
    };
    // Runs on the engine's thread, possibly after this transport is gone:
    // the stream's callback holds only a weak reference to what it needs.
    events.keyframe = events_.on_keyframe_request;
    peer_ = engine_->add_peer(plan, "livepipe", std::move(events), &error);
    std::string answer = peer_ ? peer_->answer() : std::string();
    live_.store(peer_.get());
    post_to(shared_->context, [done = std::move(done), answer, error] { done(answer, error); });
  }

  void add_candidate(unsigned, const std::string &) override {
    // An ICE-lite agent answers the viewer's checks from wherever they come;
    // it never checks candidates itself.
  }

  std::optional<media::IceParams> restart_ice(const media::IceParams &remote,
                                              std::string *error) override {
    if (!peer_) {
      *error = "the session has not been answered yet";
      return std::nullopt;
    }
    media::IceParams local;
    peer_->restart_ice(remote.ufrag, &local.ufrag, &local.pwd, &local.candidates);
    return local;
  }

  void push(const std::string &kind, GstBuffer *rtp) override {
    if (Peer *peer = live_.load()) {
      peer->push(kind, rtp);
    }
  }

  media::TransportStats stats() const override {
    if (!peer_) {
      return {};
    }
    PeerStats s = peer_->stats();
    return {s.packets, s.bytes};
  }

 private:
  struct Shared {
    SharedSocketViewer *self = nullptr;
    GMainContext *context = nullptr;
  };

  std::shared_ptr<Engine> engine_;
  Events events_;
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<Peer> peer_;
  // What streaming threads push to: set once the peer exists.
  std::atomic<Peer *> live_{nullptr};
};

}  // namespace

std::unique_ptr<media::ViewerTransport> SharedSocketViewerFactory::create(
    const std::string &, media::ViewerTransport::Events events, std::string *) {
  return std::make_unique<SharedSocketViewer>(engine_, std::move(events));
}

}  // namespace livepipe::signaling::fanout
