#include "agent/executor/journal.h"

#include <gtest/gtest.h>

#include <fstream>

#include "unit/executor/temp_dir.h"

namespace colo::executor {
namespace {

TEST(Journal, RoundTripsRecords) {
  JournalRecord r;
  r.type = RecordType::kWrite;
  r.seq = 7;
  r.revision = 3;
  r.path = "/sys/fs/cgroup/cpu/a/cpu.idle";
  r.old_value = "0";
  r.new_value = "1";
  r.reason = "BE pod \"x\"";
  auto back = decodeRecord(encodeRecord(r));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->type, RecordType::kWrite);
  EXPECT_EQ(back->seq, 7u);
  EXPECT_EQ(back->revision, 3u);
  EXPECT_EQ(back->path, r.path);
  EXPECT_EQ(back->old_value, "0");
  EXPECT_EQ(back->new_value, "1");
  EXPECT_EQ(back->reason, r.reason);
}

TEST(Journal, TornLastLineIsIgnoredAndCutByTheNextWriter) {
  test::TempDir dir;
  std::string file = dir.path() + "/journal.jsonl";
  {
    auto w = JournalWriter::open(file);
    ASSERT_TRUE(w);
    JournalRecord r;
    r.type = RecordType::kClean;
    ASSERT_TRUE(w->append(r, true));
  }
  {
    std::ofstream f(file, std::ios::app);
    f << "{\"t\":\"write\",\"seq\":2,\"pa";  // a crash mid-append
  }
  auto recs = readJournal(file);
  ASSERT_TRUE(recs) << recs.error().message();
  EXPECT_EQ(recs->size(), 1u);
  // The next writer cuts the torn tail off, so the journal stays readable.
  {
    auto w = JournalWriter::open(file);
    ASSERT_TRUE(w);
    JournalRecord r;
    r.type = RecordType::kStart;
    ASSERT_TRUE(w->append(r, true));
  }
  auto again = readJournal(file);
  ASSERT_TRUE(again) << again.error().message();
  ASSERT_EQ(again->size(), 2u);
  EXPECT_EQ((*again)[1].type, RecordType::kStart);
}

TEST(Journal, CorruptMiddleLineIsSkippedAndCounted) {
  test::TempDir dir;
  std::string file = dir.path() + "/journal.jsonl";
  {
    std::ofstream f(file);
    f << "{\"t\":\"write\",\"seq\":1,\"rev\":1,\"path\":\"/a\",\"old\":\"0\",\"new\":\"1\"}\n";
    f << "garbage\n";
    f << "{\"t\":\"write\",\"seq\":2,\"rev\":1,\"path\":\"/b\",\"old\":\"0\",\"new\":\"1\"}\n";
  }
  size_t skipped = 0;
  auto recs = readJournal(file, &skipped);
  ASSERT_TRUE(recs) << recs.error().message();
  EXPECT_EQ(recs->size(), 2u);
  EXPECT_EQ(skipped, 1u);
}

}  // namespace
}  // namespace colo::executor
