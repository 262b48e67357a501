#include <gtest/gtest.h>

#include "kc/storage/UserId.h"

namespace kc::storage {
namespace {

TEST(UserId, CanonicalLowerCaseGuidIsAccepted) {
  EXPECT_TRUE(isCanonicalUserId("0f8fad5b-d9cb-469f-a165-70867728950e"));
  EXPECT_TRUE(checkUserId("00000000-0000-0000-0000-000000000000").isOk());
}

TEST(UserId, UpperCaseBracedShortOrMisplacedHyphensAreRejected) {
  for (const char* bad :
       {"0F8FAD5B-D9CB-469F-A165-70867728950E", "{0f8fad5b-d9cb-469f-a165-70867728950e}",
        "0f8fad5b-d9cb-469f-a165-70867728950", "0f8fad5bd9cb-469f-a165-70867728950e-",
        "0f8fad5b-d9cb-469f-a165-70867728950g", ""}) {
    EXPECT_FALSE(isCanonicalUserId(bad)) << bad;
    EXPECT_EQ(checkUserId(bad).code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(UserId, ErrorQuotesAtMostFortyCharactersOfTheInput) {
  const std::string longInput(500, 'x');
  EXPECT_LT(checkUserId(longInput).message().size(), 120u);
}

TEST(UserId, CanonicalisingLowerCasesAndStripsBraces) {
  EXPECT_EQ(*canonicalUserId("{0F8FAD5B-D9CB-469F-A165-70867728950E}"),
            "0f8fad5b-d9cb-469f-a165-70867728950e");
  EXPECT_EQ(canonicalUserId("not-a-guid").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kc::storage
