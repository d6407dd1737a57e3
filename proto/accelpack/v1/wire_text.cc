// SPDX-License-Identifier: GPL-2.0-or-later
#include "accelpack/v1/wire_text.h"

#include <cstdint>

namespace accelpack::wire {

namespace {

// Length of the valid UTF-8 sequence at text[pos] (1..4) with its code point, or
// 0 when the bytes there are not UTF-8 (stray continuation, overlong form,
// surrogate, beyond U+10FFFF, truncated).
size_t DecodeOne(std::string_view text, size_t pos, char32_t* code_point) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[pos + i]); };
  const uint8_t lead = byte(0);
  if (lead < 0x80) {
    *code_point = lead;
    return 1;
  }
  size_t length = 0;
  char32_t value = 0;
  char32_t smallest = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, value = lead & 0x1Fu, smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, value = lead & 0x0Fu, smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, value = lead & 0x07u, smallest = 0x10000;
  } else {
    return 0;
  }
  if (pos + length > text.size()) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    value = (value << 6) | (byte(i) & 0x3Fu);
  }
  if (value < smallest || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
  *code_point = value;
  return length;
}

// C0, DEL, C1, and the Unicode line/paragraph separators: anything that moves
// the cursor or starts a terminal command.
bool IsControl(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029;
}

bool IsPlainAscii(std::string_view text) {
  for (char c : text) {
    if (static_cast<uint8_t>(c) < 0x20 || static_cast<uint8_t>(c) >= 0x7F) return false;
  }
  return true;
}

// Bytes of the escape sequence at text[pos]; `introducer` is 1 for ESC (0x1B), 2
// for the C1 CSI (U+009B in UTF-8). CSI runs to its final byte, OSC to BEL or
// ESC \, anything else is ESC and one more byte; at least the introducer itself.
size_t EscapeSequenceLength(std::string_view text, size_t pos, size_t introducer) {
  size_t i = pos + introducer;
  const bool csi = introducer == 2 || (i < text.size() && text[i] == '[');
  const bool osc = introducer == 1 && i < text.size() && text[i] == ']';
  if (csi || osc) {
    if (introducer == 1) ++i;
    for (; i < text.size(); ++i) {
      const auto c = static_cast<uint8_t>(text[i]);
      if (osc) {
        if (c == 0x07) return i + 1 - pos;
        if (c == 0x1B) return (i + 1 < text.size() && text[i + 1] == '\\' ? i + 2 : i + 1) - pos;
      } else if (c >= 0x40 && c <= 0x7E) {
        return i + 1 - pos;  // CSI final byte
      } else if (c < 0x20 || c > 0x3F) {
        return i - pos;  // not a parameter or intermediate: the sequence was cut short
      }
    }
    return text.size() - pos;
  }
  // ESC and one more character (e.g. ESC c, a full reset).
  return (i < text.size() ? i + 1 : i) - pos;
}

// Calls emit(piece) for each character of `bytes` as Printable writes it, until
// emit returns false.
template <typename Emit>
void ForEachPrintablePiece(std::string_view bytes, Emit emit) {
  char escaped[16];
  for (size_t pos = 0; pos < bytes.size();) {
    char32_t c = 0;
    const size_t length = DecodeOne(bytes, pos, &c);
    std::string_view piece;
    if (length == 0 || IsControl(c)) {
      const size_t raw = length == 0 ? 1 : length;
      size_t n = 0;
      for (size_t i = 0; i < raw; ++i) {
        static constexpr char kDigits[] = "0123456789abcdef";
        const auto b = static_cast<uint8_t>(bytes[pos + i]);
        escaped[n++] = '\\';
        escaped[n++] = 'x';
        escaped[n++] = kDigits[b >> 4];
        escaped[n++] = kDigits[b & 0xF];
      }
      piece = std::string_view(escaped, n);
      pos += raw;
    } else {
      piece = bytes.substr(pos, length);
      pos += length;
    }
    if (!emit(piece)) return;
  }
}

}  // namespace

bool IsPrintable(std::string_view text) {
  if (IsPlainAscii(text)) return true;
  for (size_t pos = 0; pos < text.size();) {
    char32_t c = 0;
    const size_t length = DecodeOne(text, pos, &c);
    if (length == 0 || IsControl(c)) return false;
    pos += length;
  }
  return true;
}

std::string_view Utf8Prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = 0;
  while (end < max_bytes) {
    char32_t ignored = 0;
    const size_t length = DecodeOne(text, end, &ignored);
    const size_t step = length == 0 ? 1 : length;
    if (end + step > max_bytes) break;
    end += step;
  }
  return text.substr(0, end);
}

std::string Utf8Shown(std::string_view text, size_t max_bytes) {
  return IsPrintable(text) ? std::string(text) : Printable(text, max_bytes);
}

std::string Printable(std::string_view bytes, size_t max_bytes) {
  if (bytes.size() <= max_bytes && IsPlainAscii(bytes)) return std::string(bytes);
  size_t escaped_size = 0;  // counted only up to the bound: the input may be huge
  ForEachPrintablePiece(bytes, [&](std::string_view piece) {
    escaped_size += piece.size();
    return escaped_size <= max_bytes;
  });
  std::string out;
  if (escaped_size <= max_bytes) {
    out.reserve(escaped_size);
    ForEachPrintablePiece(bytes, [&](std::string_view piece) {
      out.append(piece);
      return true;
    });
    return out;
  }
  const std::string suffix = "...(" + std::to_string(bytes.size()) + " bytes)";
  const size_t budget = max_bytes > suffix.size() ? max_bytes - suffix.size() : 0;
  out.reserve(max_bytes);
  ForEachPrintablePiece(bytes, [&](std::string_view piece) {
    if (out.size() + piece.size() > budget) return false;
    out.append(piece);
    return true;
  });
  out += suffix;
  if (out.size() > max_bytes)
    out.resize(max_bytes);  // a bound below the suffix: ASCII, cut anywhere
  return out;
}

std::string OneLine(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes && IsPlainAscii(text)) return std::string(text);
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(text.size() < max_bytes ? text.size() : max_bytes);
  for (size_t pos = 0; pos < text.size();) {
    char32_t c = 0;
    const size_t length = DecodeOne(text, pos, &c);
    if (length != 0 && (c == 0x1B || c == 0x9B)) {
      pos += EscapeSequenceLength(text, pos, length);
      continue;
    }
    std::string_view piece = length == 0 ? kReplacement : text.substr(pos, length);
    if (length != 0 && IsControl(c)) piece = " ";
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece);
    pos += length == 0 ? 1 : length;
  }
  return out;
}

}  // namespace accelpack::wire
