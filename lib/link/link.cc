#include "link/link.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace parallelrun {

namespace {

// Both ends share one state; each delivers to the other's handler.
struct InProcessState {
  LinkEnd::Handler handlers[2];
};

class InProcessEnd : public LinkEnd {
 public:
  InProcessEnd(boost::asio::io_context& io, std::shared_ptr<InProcessState> state, int side)
      : io_(io), state_(std::move(state)), side_(side) {}

  void Send(LinkMessage message) override {
    auto state = state_;
    int peer = 1 - side_;
    boost::asio::post(io_, [state, peer, m = std::move(message)]() mutable {
      if (state->handlers[peer]) state->handlers[peer](std::move(m));
    });
  }

  void SetHandler(Handler handler) override { state_->handlers[side_] = std::move(handler); }

  ~InProcessEnd() override { state_->handlers[side_] = nullptr; }

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<InProcessState> state_;
  int side_;
};

}  // namespace

std::pair<std::unique_ptr<LinkEnd>, std::unique_ptr<LinkEnd>> MakeInProcessLink(
    boost::asio::io_context& io) {
  auto state = std::make_shared<InProcessState>();
  return {std::make_unique<InProcessEnd>(io, state, 0), std::make_unique<InProcessEnd>(io, state, 1)};
}

}  // namespace parallelrun
