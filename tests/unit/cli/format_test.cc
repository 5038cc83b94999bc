#include "cli/format.h"

#include <gtest/gtest.h>

namespace colo::cli {
namespace {

TEST(FormatDuration, PicksUnitWithThreeDigits) {
  EXPECT_EQ(formatDuration(0), "0ns");
  EXPECT_EQ(formatDuration(512), "512ns");
  EXPECT_EQ(formatDuration(999), "999ns");
  EXPECT_EQ(formatDuration(1000), "1.00µs");
  EXPECT_EQ(formatDuration(1024), "1.02µs");
  EXPECT_EQ(formatDuration(15000), "15.0µs");
  EXPECT_EQ(formatDuration(131072), "131µs");
  EXPECT_EQ(formatDuration(999499), "999µs");
  EXPECT_EQ(formatDuration(999999), "1.00ms");  // rounding carries into the next unit
  EXPECT_EQ(formatDuration(1048576), "1.05ms");
  EXPECT_EQ(formatDuration(2000000000), "2.00s");
  EXPECT_EQ(formatDuration(uint64_t{1} << 36), "68.7s");
}

TEST(FormatCount, SuffixesAboveFourDigits) {
  EXPECT_EQ(formatCount(0), "0");
  EXPECT_EQ(formatCount(9999), "9999");
  EXPECT_EQ(formatCount(12345), "12.3K");
  EXPECT_EQ(formatCount(4560000), "4.56M");
  EXPECT_EQ(formatCount(7000000000), "7.00G");
}

TEST(FormatBytes, BinaryUnitsWithThreeDigits) {
  EXPECT_EQ(formatBytes(0), "0B");
  EXPECT_EQ(formatBytes(1023), "1023B");
  EXPECT_EQ(formatBytes(1024), "1.00Ki");
  EXPECT_EQ(formatBytes(512 * 1024), "512Ki");
  EXPECT_EQ(formatBytes((1 << 20) - 1), "1.00Mi");  // rounding carries into the next unit
  EXPECT_EQ(formatBytes(uint64_t{64} << 20), "64.0Mi");
  EXPECT_EQ(formatBytes(uint64_t{5} << 29), "2.50Gi");
  EXPECT_EQ(formatBytes(uint64_t{3} << 50), "3072Ti");
}

TEST(FormatPercentAndCores, FixedDecimals) {
  EXPECT_EQ(formatPercent(2.14), "2.1%");
  EXPECT_EQ(formatPercent(100), "100.0%");
  EXPECT_EQ(formatCores(0.526), "0.53");
}

TEST(ShortContainerName, PodUidAndShortId) {
  EXPECT_EQ(shortContainerName("6a1e-22", "3f1c0123456789abcdef", "/x"), "pod6a1e-22/3f1c01234567");
  EXPECT_EQ(shortContainerName("6a1e-22", "", "/x"), "pod6a1e-22");
  EXPECT_EQ(shortContainerName("", "", "/system.slice/a.service"), "/system.slice/a.service");
}

TEST(DisplayWidth, CountsCodePoints) {
  EXPECT_EQ(displayWidth("abc"), 3u);
  EXPECT_EQ(displayWidth("15.0µs"), 6u);  // µ is two bytes, one column
}

TEST(TruncateMiddle, KeepsHeadAndTail) {
  EXPECT_EQ(truncateMiddle("abcdefghij", 0), "abcdefghij");
  EXPECT_EQ(truncateMiddle("abcdefghij", 10), "abcdefghij");
  EXPECT_EQ(truncateMiddle("abcdefghij", 7), "abc…hij");
  EXPECT_EQ(displayWidth(truncateMiddle("abcdefghij", 6)), 6u);
  EXPECT_EQ(truncateMiddle("µµµµµµ", 3), "µ…µ");
}

TEST(Table, AlignsColumnsWithoutTrailingBlanks) {
  Table t({{"NAME", Table::Align::kLeft},
           {"P99", Table::Align::kRight},
           {"NOTE", Table::Align::kLeft}});
  t.addRow({"web", "1.05ms", ""});
  t.addRow({"batch-job", "15.0µs", "x"});
  EXPECT_EQ(t.render(),
            "NAME          P99  NOTE\n"
            "web        1.05ms\n"
            "batch-job  15.0µs  x\n");
}

TEST(Table, MissingCellsAreBlankAndLongCellsAreCut) {
  Table t({{"A", Table::Align::kLeft, 5}, {"B", Table::Align::kRight}});
  t.addRow({"abcdefgh"});
  t.addRow({"x", "1", "dropped"});
  EXPECT_EQ(t.render(),
            "A      B\n"
            "ab…gh\n"
            "x      1\n");
}

}  // namespace
}  // namespace colo::cli
