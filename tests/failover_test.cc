#include "job/failover.h"

#include <catch2/catch.hpp>

namespace parallelrun {
namespace {

TEST_CASE("Failover: the master's address reads back as written", "[failover]") {
  MasterAddress a;
  a.round = 2;
  a.node = 1;
  a.host = "10.0.0.5";
  a.port = 29500;
  a.pid = 4242;
  a.hostname = "n2";
  std::string line = FormatMasterAddress(a);
  CHECK(line == "round=2 node=1 host=10.0.0.5 port=29500 pid=4242 hostname=n2");
  auto back = ParseMasterAddress(line);
  REQUIRE(back);
  CHECK(back->round == 2);
  CHECK(back->node == 1);
  CHECK(back->host == "10.0.0.5");
  CHECK(back->port == 29500);
  CHECK(back->pid == 4242);
  CHECK(back->hostname == "n2");
  // The order of the fields does not matter; IPv6 addresses keep their colons.
  auto v6 = ParseMasterAddress("hostname=h pid=1 port=1 host=fe80::1 node=0 round=1");
  REQUIRE(v6);
  CHECK(v6->host == "fe80::1");
}

TEST_CASE("Failover: an address that is not whole is no address", "[failover]") {
  // What a reader must never dial: a torn, partial or foreign file.
  for (const char* bad : {"", "round=1", "round=1 node=1 host=h port=2 pid=3",
                          "round=1 node=1 host=h port=0 pid=3 hostname=x",
                          "round=1 node=1 host=h port=65536 pid=3 hostname=x",
                          "round=x node=1 host=h port=2 pid=3 hostname=x",
                          "round=-1 node=1 host=h port=2 pid=3 hostname=x",
                          "round=1 node=1 host= port=2 pid=3 hostname=x",
                          "round=1 node=1 host=h port=2 pid=3 hostname=x extra=1",
                          "round=1 node=1 host=h port=2 pid=3 hostname=x junk",
                          "round=99999999999 node=1 host=h port=2 pid=3 hostname=x"}) {
    INFO(bad);
    CHECK_FALSE(ParseMasterAddress(bad));
  }
}

TEST_CASE("Failover: PARALLELRUN_FAILOVER is on, off, or an error", "[failover]") {
  for (const char* on : {"", "1", "on"}) CHECK(ParseFailoverSetting(on).value());
  for (const char* off : {"0", "off"}) CHECK_FALSE(ParseFailoverSetting(off).value());
  auto bad = ParseFailoverSetting("yes please");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Status::Code::kUsage);
  CHECK(bad.status().message() ==
        "PARALLELRUN_FAILOVER='yes please' is not valid: give 1 or on (the default: another "
        "node takes the master role when the master's process dies), or 0 or off");
}

}  // namespace
}  // namespace parallelrun
