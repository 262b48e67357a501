// Runs a libFuzzer target without libFuzzer: every file of the given corpus directories
// (or files), then --iterations=N deterministic mutations of them (bit flips, byte
// insertions and deletions, truncations, splices), stopping early after --max-seconds=S when
// given (a time-bounded run in CI; the mutations come in the same order, so --iterations=N
// with N from the progress lines replays a failure). Exits non-zero only if the target
// crashes, which the operating system or a sanitizer reports. For ctest; real fuzzing
// uses the libFuzzer build (-DKC_FUZZ=ON with clang).

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::uint8_t> readAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void run(const std::vector<std::uint8_t>& input) {
  LLVMFuzzerTestOneInput(input.data(), input.size());
}

std::vector<std::uint8_t> mutate(std::vector<std::uint8_t> input,
                                 const std::vector<std::vector<std::uint8_t>>& corpus,
                                 std::mt19937_64& random) {
  const int edits = 1 + static_cast<int>(random() % 8);
  for (int e = 0; e < edits; ++e) {
    const std::size_t size = input.size();
    switch (random() % 7) {
      case 0:  // flip a bit
        if (size) input[random() % size] ^= static_cast<std::uint8_t>(1u << (random() % 8));
        break;
      case 1:  // replace a byte with an interesting one
        if (size) {
          static constexpr std::uint8_t kInteresting[] = {
              0, 0xFF, 0x7F, 0x80, '"', '\\', '{', '}', '[', ']', ',', ':', '.', '=', '\n'};
          input[random() % size] = kInteresting[random() % sizeof kInteresting];
        }
        break;
      case 2:  // insert a random byte
        input.insert(input.begin() + static_cast<std::ptrdiff_t>(size ? random() % (size + 1) : 0),
                     static_cast<std::uint8_t>(random()));
        break;
      case 3:  // delete a byte
        if (size) input.erase(input.begin() + static_cast<std::ptrdiff_t>(random() % size));
        break;
      case 4:  // truncate
        if (size) input.resize(random() % size);
        break;
      case 5: {  // splice in part of another seed
        const auto& other = corpus[random() % corpus.size()];
        if (!other.empty()) {
          const std::size_t from = random() % other.size();
          const std::size_t length = 1 + random() % (other.size() - from);
          const std::size_t at = size ? random() % (size + 1) : 0;
          input.insert(input.begin() + static_cast<std::ptrdiff_t>(at),
                       other.begin() + static_cast<std::ptrdiff_t>(from),
                       other.begin() + static_cast<std::ptrdiff_t>(from + length));
        }
        break;
      }
      default:  // duplicate a run of bytes
        if (size) {
          const std::size_t from = random() % size;
          const std::size_t length = 1 + random() % std::min<std::size_t>(size - from, 64);
          std::vector<std::uint8_t> run(input.begin() + static_cast<std::ptrdiff_t>(from),
                                        input.begin() + static_cast<std::ptrdiff_t>(from + length));
          input.insert(input.begin() + static_cast<std::ptrdiff_t>(from), run.begin(), run.end());
        }
        break;
    }
  }
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = 0;
  long maxSeconds = 0;  // 0: no time bound
  std::vector<std::vector<std::uint8_t>> corpus;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--iterations=", 13) == 0) {
      iterations = std::strtol(argv[i] + 13, nullptr, 10);
      continue;
    }
    if (std::strncmp(argv[i], "--max-seconds=", 14) == 0) {
      maxSeconds = std::strtol(argv[i] + 14, nullptr, 10);
      continue;
    }
    const std::filesystem::path path(argv[i]);
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file()) corpus.push_back(readAll(entry.path()));
      }
    } else if (std::filesystem::exists(path)) {
      corpus.push_back(readAll(path));
    }
  }
  if (corpus.empty()) corpus.emplace_back();
  for (const auto& seed : corpus) run(seed);
  std::mt19937_64 random(0x6b632d66757a7aULL);  // fixed: a failure replays exactly
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(maxSeconds);
  long ran = 0;
  for (; ran < iterations; ++ran) {
    if (ran % 10000 == 0) {
      if (maxSeconds > 0 && std::chrono::steady_clock::now() >= deadline) break;
      std::printf("mutation %ld\n", ran);
      std::fflush(stdout);
    }
    run(mutate(corpus[random() % corpus.size()], corpus, random));
  }
  std::printf("%zu seeds and %ld mutations ran without a crash\n", corpus.size(), ran);
  return 0;
}
