#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <type_traits>

#include "kc/UserId.h"

namespace kc {
namespace {

constexpr const char* kCanonical = "0f8fad5b-d9cb-469f-a165-70867728950e";

// A UserId is only ever made by parsing: no text turns into one by construction or conversion.
static_assert(!std::is_constructible_v<UserId, std::string>);
static_assert(!std::is_constructible_v<UserId, std::string_view>);
static_assert(!std::is_constructible_v<UserId, const char*>);
static_assert(!std::is_convertible_v<std::string, UserId>);
static_assert(!std::is_default_constructible_v<UserId>);

TEST(UserId, CanonicalLowerCaseGuidIsAcceptedByBothParsers) {
  for (const char* text : {kCanonical, "00000000-0000-0000-0000-000000000000"}) {
    const auto strict = UserId::parseCanonical(text);
    ASSERT_TRUE(strict.isOk()) << strict.status().toString();
    EXPECT_EQ(strict->str(), text);
    const auto lenient = UserId::parse(text);
    ASSERT_TRUE(lenient.isOk()) << lenient.status().toString();
    EXPECT_EQ(*lenient, *strict);
  }
}

TEST(UserId, UpperCaseAndBracesAreCanonicalisedByParseOnly) {
  for (const char* spelling :
       {"0F8FAD5B-D9CB-469F-A165-70867728950E", "{0f8fad5b-d9cb-469f-a165-70867728950e}",
        "{0F8FAD5B-D9CB-469F-A165-70867728950E}", "0f8fad5b-D9CB-469f-A165-70867728950e"}) {
    const auto parsed = UserId::parse(spelling);
    ASSERT_TRUE(parsed.isOk()) << spelling << ": " << parsed.status().toString();
    EXPECT_EQ(parsed->str(), kCanonical) << spelling;
    EXPECT_EQ(UserId::parseCanonical(spelling).status().code(), StatusCode::kInvalidArgument)
        << spelling;
  }
}

TEST(UserId, MalformedGuidsAreRejectedByBothParsers) {
  for (const std::string bad : {
           "0f8fad5b-d9cb-469f-a165-70867728950",       // one digit short
           "0f8fad5b-d9cb-469f-a165-70867728950e0",     // one digit long
           "0f8fad5bd9cb-469f-a165-70867728950e-",      // a hyphen moved
           "0f8fad5b-d9cb-469f-a16570867728950e",       // a hyphen missing
           "0f8fad5b_d9cb_469f_a165_70867728950e",      // not hyphens
           "0f8fad5b-d9cb-469f-a165-70867728950g",      // not hex
           "{0f8fad5b-d9cb-469f-a165-70867728950e",     // an unclosed brace
           "(0f8fad5b-d9cb-469f-a165-70867728950e)",    // not braces
           "{{0f8fad5b-d9cb-469f-a165-70867728950e}}",  // braces twice
           " 0f8fad5b-d9cb-469f-a165-70867728950e",     // surrounding space
           "0f8fad5bd9cb469fa16570867728950e",          // the "N" form
           "' OR 1=1 --",
           "",
       }) {
    EXPECT_EQ(UserId::parse(bad).status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(UserId::parseCanonical(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(UserId, ErrorQuotesAtMostFortyCharactersOfTheInput) {
  const std::string longInput(500, 'x');
  for (const auto& result : {UserId::parse(longInput), UserId::parseCanonical(longInput)}) {
    ASSERT_FALSE(result.isOk());
    const std::string message = result.status().message();
    EXPECT_LE(message.size(), 120u) << message;
    EXPECT_NE(message.find(std::string(40, 'x') + "..."), std::string::npos) << message;
  }
}

TEST(UserId, ErrorShowsControlCharactersAsQuestionMarks) {
  const std::string withControls = std::string("ab\ncd\x1b[0m") + '\0' + "ef\x7f";
  for (const auto& result : {UserId::parse(withControls), UserId::parseCanonical(withControls)}) {
    ASSERT_FALSE(result.isOk());
    const std::string message = result.status().message();
    EXPECT_NE(message.find("'ab?cd?[0m?ef?'"), std::string::npos) << message;
    for (const char c : message) {
      const auto byte = static_cast<unsigned char>(c);
      EXPECT_TRUE(byte >= 0x20 && byte < 0x7F) << "byte " << static_cast<int>(byte);
    }
  }
}

TEST(UserId, EqualityAndOrderFollowTheCanonicalText) {
  const auto lower = UserId::parse("00000000-0000-4000-8000-00000000000a");
  const auto upper = UserId::parse("{00000000-0000-4000-8000-00000000000A}");
  const auto higher = UserId::parse("00000000-0000-4000-8000-00000000000b");
  ASSERT_TRUE(lower.isOk() && upper.isOk() && higher.isOk());
  EXPECT_EQ(*lower, *upper);
  EXPECT_LT(*lower, *higher);
  EXPECT_NE(*upper, *higher);
}

}  // namespace
}  // namespace kc
