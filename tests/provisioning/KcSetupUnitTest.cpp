// kc-setup's pieces that need no token: the flag parser and the URI writer.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "CommandLine.h"
#include "UriText.h"
#include "kc/Text.h"

namespace kc::setup {
namespace {

CommandSpec sampleSpec() {
  return {"key", "verify", "summary", "", {{"--key", "URI", "a key"}, {"--if-missing", "", "sw"}}};
}

Result<ParsedFlags> parse(std::vector<std::string> args) {
  return parseFlags(sampleSpec(), args);
}

TEST(KcSetupCommandLineTest, AcceptsSpaceAndEqualsSeparatedValuesAndSwitches) {
  auto spaced = parse({"--key", "pkcs11:token=a", "--if-missing"});
  ASSERT_TRUE(spaced.isOk()) << spaced.status().toString();
  EXPECT_EQ(spaced->value("--key"), "pkcs11:token=a");
  EXPECT_TRUE(spaced->has("--if-missing"));
  auto joined = parse({"--key=pkcs11:token=a;object=b"});
  ASSERT_TRUE(joined.isOk()) << joined.status().toString();
  EXPECT_EQ(joined->value("--key"), "pkcs11:token=a;object=b");
  EXPECT_FALSE(joined->has("--if-missing"));
}

TEST(KcSetupCommandLineTest, RefusesRepeatedFlagsValuesOnSwitchesAndEmptyValues) {
  EXPECT_FALSE(parse({"--key", "a", "--key", "b"}).isOk());
  EXPECT_FALSE(parse({"--if-missing=yes"}).isOk());
  EXPECT_FALSE(parse({"--key="}).isOk());
  EXPECT_FALSE(parse({"--key", "--if-missing"}).isOk());
}

TEST(KcSetupCommandLineTest, NeverEchoesAPositionalArgumentOrAPinFlagsValue) {
  for (const auto& args :
       {std::vector<std::string>{"s3cr3t-value"}, std::vector<std::string>{"--pin=s3cr3t-value"},
        std::vector<std::string>{"--so-pin", "s3cr3t-value"}}) {
    auto parsed = parse(args);
    ASSERT_FALSE(parsed.isOk());
    EXPECT_EQ(parsed.status().message().find("s3cr3t-value"), std::string::npos)
        << parsed.status().message();
  }
}

TEST(KcSetupCommandLineTest, UsageListsEveryFlagAndHelp) {
  const std::string usage = commandUsage(sampleSpec());
  EXPECT_NE(usage.find("usage: kc-setup key verify"), std::string::npos);
  EXPECT_NE(usage.find("--key URI"), std::string::npos);
  EXPECT_NE(usage.find("--if-missing"), std::string::npos);
  EXPECT_NE(usage.find("--help"), std::string::npos);
}

TEST(KcSetupUriTextTest, PercentEncodesEverythingOutsideUnreserved) {
  EXPECT_EQ(percentEncode("kc-dev_1.~"), "kc-dev_1.~");
  EXPECT_EQ(percentEncode("my token;x=y/z"), "my%20token%3Bx%3Dy%2Fz");
}

TEST(KcSetupUriTextTest, KeyUriNamesTokenLabelSerialAndPrivateObject) {
  pkcs11::TokenDescription token;
  token.label = "kc dev";
  token.serial = "0123abcd";
  EXPECT_EQ(tokenUri(token), "pkcs11:token=kc%20dev;serial=0123abcd");
  EXPECT_EQ(keyUri(token, "wrap"),
            "pkcs11:token=kc%20dev;serial=0123abcd;object=wrap;type=private");
}

TEST(KcSetupUriTextTest, WithObjectLabelReplacesObjectSelectorsAndKeepsTheQuery) {
  EXPECT_EQ(*withObjectLabel("pkcs11:token=t", "k"), "pkcs11:token=t;object=k;type=private");
  EXPECT_EQ(*withObjectLabel("pkcs11:", "k"), "pkcs11:object=k;type=private");
  EXPECT_EQ(*withObjectLabel("pkcs11:token=t;object=old;id=%01;type=public;serial=s?module-name=x",
                             "new"),
            "pkcs11:token=t;serial=s;object=new;type=private?module-name=x");
  EXPECT_FALSE(withObjectLabel("token=t", "k").isOk());
}

}  // namespace
}  // namespace kc::setup
