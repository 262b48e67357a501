// kc-setup's pieces that need no token: the URI writer. (Its flag parser is kc/cli's,
// tested in CommandLineTest.)

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "UriText.h"
#include "kc/Text.h"

namespace kc::setup {
namespace {

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
