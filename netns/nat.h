// netns/nat.h: nftables for one container, in a table of its own ("inet vsrv-c-<hash>"), so
// adding and removing are each one atomic batch and never touch any other table: masquerade
// for egress, DNAT for published ports (from outside, from the host itself via output, and
// hairpin from the bridge), and a forward drop between this bridge and other vsrv bridges.
#pragma once
#include <string>

#include "netns/network.h"
#include "runtime/sys/error.h"

namespace vsrv::net {

std::string nft_table_name(const std::string& id);
// The batch that (re)creates the container's table; pure, unit tested.
std::string nft_add_script(const Plan& p);
// Removes the container's table; a table that is not there is success. Never creates anything,
// so a release run in the wrong netns leaves that netns untouched.
Result<void> nft_remove_table(const std::string& table);
// Runs a batch through libnftables in the vsrv-nft program (netns/helper/vsrv_nft.cpp), which must
// be owned by root and not writable by group or others; the error carries nft's own message.
Result<void> nft_run(const std::string& script);

}  // namespace vsrv::net
