// Text rules of the accelpack.v1 contract, shared by both ends of the wire (the
// core and the plugin's bridge) so that each applies the same ones.
//
// Names from Slurm travel as opaque `bytes` (any encoding, matched and echoed back
// exactly). Whenever such bytes are written for a human (a log line, an error
// message, a pending reason in squeue) they go through one of these first, so no
// input can forge a log line, paint a terminal or grow a log without bound.
// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace accelpack::wire {

// A name (node, partition, feature, GRES, user, ...) longer than this is refused.
inline constexpr size_t kMaxNameBytes = 1024;
// A pending reason: what Slurm shows in squeue's reason column.
inline constexpr size_t kMaxReasonBytes = 200;
// A policy name or caller as shown in logs and status.
inline constexpr size_t kMaxLabelBytes = 128;
// A log line's or error message's echo of input.
inline constexpr size_t kMaxLogTextBytes = 1024;

// Whether `text` is valid UTF-8 without control characters (C0, DEL, C1, U+2028/9):
// what Printable leaves as it is.
bool IsPrintable(std::string_view text);

// For logs and error messages, reversible by eye: printable UTF-8 stays, every
// control byte (C0, DEL, C1) and every byte that is not part of valid UTF-8
// becomes \xNN. Longer than `max_bytes` (counted in the output): cut at a
// character boundary, never inside an escape, and "...(N bytes)" appended, N the
// input's length. The result is never longer than `max_bytes`.
std::string Printable(std::string_view bytes, size_t max_bytes = kMaxLogTextBytes);

// For text sent where valid UTF-8 is required (proto3 strings of the operator views,
// Prometheus label values) that may hold Slurm's bytes (names in no declared
// encoding): the text itself when IsPrintable, else Printable's escapes (\xNN), at
// most `max_bytes`.
std::string Utf8Shown(std::string_view text, size_t max_bytes = 4 * kMaxNameBytes);

// For one line shown to users (a reason in squeue, a policy name): ANSI/VT escape
// sequences removed, other control characters become a space, invalid UTF-8
// becomes U+FFFD, and the result is cut at a character boundary to `max_bytes`.
// Always valid UTF-8.
std::string OneLine(std::string_view text, size_t max_bytes);

// The longest prefix of `text` of at most `max_bytes` that does not end inside a
// UTF-8 sequence (bytes that are not UTF-8 count as characters of one byte).
std::string_view Utf8Prefix(std::string_view text, size_t max_bytes);

}  // namespace accelpack::wire
