// The shared text vocabulary of kc/Text.h: every folder trims, folds case and writes hex with
// these, so their edges are pinned once here.

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>

#include "kc/Text.h"

namespace kc {
namespace {

TEST(Text, TrimRemovesOnlyTheGivenBlanksAtBothEnds) {
  EXPECT_EQ(trimView("  a b \t\r\n"), "a b");
  EXPECT_EQ(trimView(" \t\r\n "), "");
  EXPECT_EQ(trimView(""), "");
  EXPECT_EQ(trimView("\va\v"), "\va\v") << "only SP, HTAB, CR and LF by default";
  EXPECT_EQ(trimView("\t a\r\n", " \t"), "a\r\n") << "HTTP's OWS: SP and HTAB only";
  EXPECT_EQ(trim("  kc  "), std::string("kc"));
}

TEST(Text, CaseFoldingIsAsciiOnly) {
  EXPECT_EQ(toLower("ABC-def_09"), "abc-def_09");
  EXPECT_EQ(toLower("\xC3\x84"), "\xC3\x84") << "UTF-8 bytes are left alone";
  EXPECT_TRUE(equalsIgnoringCase("Bearer", "bEARER"));
  EXPECT_FALSE(equalsIgnoringCase("Bearer", "Bearer "));
  EXPECT_FALSE(equalsIgnoringCase("a", "b"));
  EXPECT_TRUE(equalsIgnoringCase("", ""));
}

TEST(Text, HexIsLowerCaseWithAnOptionalPrefixPerByte) {
  const std::array<std::uint8_t, 4> bytes = {0x00, 0x0f, 0xa0, 0xff};
  EXPECT_EQ(toHex(bytes), "000fa0ff");
  EXPECT_EQ(toHex(bytes, "%"), "%00%0f%a0%ff");
  EXPECT_EQ(toHex(std::span<const std::uint8_t>()), "");
}

TEST(Text, PercentEncodingKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(percentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(percentEncode("kc wrap;1/2%"), "kc%20wrap%3B1%2F2%25");
  EXPECT_EQ(percentEncode("\xC3\x84"), "%C3%84") << "upper-case hex, byte by byte";
  EXPECT_EQ(percentEncode(""), "");
}

}  // namespace
}  // namespace kc
