// `fsctl heal`: asks metad to repair everything now and optionally waits,
// with progress, until metad has done what it can; then says what is still
// degraded and why.
#include <algorithm>
#include <string>
#include <vector>

#include "ctl/commands.h"
#include "ctl/format.h"
#include "ctl/status_report.h"

namespace replfs::ctl {
namespace {

std::string Plural(int64_t n, const std::string &what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

std::string HealProgressText(const ClusterStatus &s, int64_t repaired) {
  return std::to_string(s.repair_queued) + " queued (" +
         FormatBytes(s.repair_bytes_queued) + "), " +
         FormatRate(s.repair_bytes_per_s) + ", ETA " +
         FormatEta(s.repair_bytes_queued, s.repair_bytes_per_s) + ", " +
         std::to_string(repaired) + " repaired, " +
         std::to_string(s.chunks.under_replicated) + " under goal";
}

// Whether the wait is over. Nothing left: the queue is empty and every
// chunk at its goal. Otherwise metad decides what it can do: its queue
// counts every chunk off goal, also the ones nothing can repair now (no
// server to copy to, no live replica to copy from), so heal is over once
// metad stopped healing (heal_running false) and no repair finished for
// `settle_ms` (a background round may still be catching up).
class HealTracker {
public:
  HealTracker(int64_t start_ms, int64_t repaired_before, int64_t settle_ms)
      : start_ms_(start_ms), last_done_(repaired_before),
        progress_ms_(start_ms), settle_ms_(settle_ms) {}

  bool Finished(const ClusterStatus &s, int64_t now_ms) {
    if (s.repair_done != last_done_) {
      last_done_ = s.repair_done;
      progress_ms_ = now_ms;
    }
    if (s.repair_queued == 0 && s.chunks.under_replicated == 0 &&
        s.chunks.unavailable == 0) {
      return true;
    }
    return !s.heal_running && now_ms - start_ms_ >= settle_ms_ &&
           now_ms - progress_ms_ >= settle_ms_;
  }

private:
  const int64_t start_ms_;
  int64_t last_done_;
  int64_t progress_ms_; // when repair_done last moved
  const int64_t settle_ms_;
};

// Why what is left is left, from what Status shows (one line each).
std::vector<std::string> ExplainLeft(const ClusterStatus &s) {
  std::vector<std::string> why;
  std::string down;
  int64_t usable = 0; // up and not draining: where copies can go
  for (const ServerInfo &i : s.servers) {
    usable += i.state == ServerState::kUp;
    if (i.state == ServerState::kDown)
      down += (down.empty() ? "" : ", ") + i.addr;
  }
  const ChunkCounts &c = s.chunks;
  if (c.unavailable > 0) {
    why.push_back(Plural(c.unavailable, "chunk") +
                  " with no live replica: nothing to copy from until a datad "
                  "holding them comes back" +
                  (down.empty() ? "" : " (down: " + down + ")"));
  }
  if (c.under_replicated > 0) {
    std::string line = Plural(c.under_replicated, "chunk") + " below goal";
    if (s.replicas > usable) {
      line += ": only " + Plural(usable, "datad") +
              " up and not draining for goal " + std::to_string(s.replicas) +
              ", so no server to copy to (bring a datad back, add one, or "
              "lower the goal with fsctl setrepl)";
    } else {
      line += " with " + Plural(usable, "datad") +
              " up and not draining: either their goal (fsctl getrepl) is "
              "higher than that, or their repairs failed (metad's log says "
              "why: \"repair of chunk N failed\")";
    }
    why.push_back(line);
  }
  if (c.corrupt_replicas > 0) {
    why.push_back(Plural(c.corrupt_replicas, "corrupt replica") +
                  " known: each goes once its chunk is repaired");
  }
  if (!down.empty()) {
    why.push_back("down: " + down +
                  " (fsctl remove ADDR forgets a datad that is gone for good)");
  }
  return why;
}

void PrintHealSummary(const ClusterStatus &before, const ClusterStatus &now,
                      int64_t took_ms, std::ostream &out) {
  const HealthVerdict v = ClassifyHealth(now);
  out << "heal: " << now.repair_done - before.repair_done
      << " chunks repaired in " << FormatDuration(took_ms) << "; cluster "
      << HealthName(v.health);
  if (!v.reasons.empty()) {
    out << ", still degraded:";
    const char *sep = " ";
    for (const std::string &r : v.reasons) {
      out << sep << r;
      sep = ", ";
    }
  }
  out << "\n";
  if (v.health != Health::kHealthy) {
    for (const std::string &line : ExplainLeft(now))
      out << "  why: " << line << "\n";
  }
  out.flush();
}

} // namespace

int RunHeal(MetaApi *api, const WaitOptions &w, std::ostream &out,
            std::ostream &err) {
  ClusterStatus before;
  Status s = api->GetStatus(&before);
  if (!s.ok()) {
    err << DescribeError(s, api->addr()) << std::endl;
    return kExitUnavailable;
  }
  const int64_t start_ms = w.clock->NowMs();
  s = api->Heal();
  if (!s.ok()) {
    err << DescribeError(s.WithContext("heal"), api->addr()) << std::endl;
    return ExitCodeFor(s);
  }
  out << "heal started: " << before.chunks.under_replicated
      << " chunks under goal, " << before.chunks.unavailable << " unavailable, "
      << before.repair_queued << " queued" << std::endl;
  if (!w.wait)
    return kExitOk;

  HealTracker tracker(start_ms, before.repair_done,
                      std::max<int64_t>(3000, 2 * w.poll_ms));
  ProgressPrinter progress(&out, w.clock, w.tty, w.plain_every_ms);
  ClusterStatus now;
  for (;;) {
    s = api->GetStatus(&now);
    if (!s.ok()) {
      progress.Finish();
      err << DescribeError(s, api->addr()) << std::endl;
      return kExitUnavailable;
    }
    const int64_t repaired = now.repair_done - before.repair_done;
    const int64_t total = repaired + now.repair_queued;
    const double fraction =
        total > 0 ? static_cast<double>(repaired) / static_cast<double>(total)
                  : 1.0;
    const std::string text = HealProgressText(now, repaired);
    progress.Update("heal", fraction, text);
    const int64_t now_ms = w.clock->NowMs();
    if (tracker.Finished(now, now_ms))
      break;
    if (now_ms - start_ms >= w.timeout_ms) {
      progress.Finish();
      err << "fsctl: heal not finished after " << FormatDuration(w.timeout_ms)
          << " (" << text << (now.heal_running ? ", metad still healing" : "")
          << ")" << std::endl;
      return kExitUnavailable;
    }
    w.clock->SleepMs(w.poll_ms);
  }
  progress.Finish();
  PrintHealSummary(before, now, w.clock->NowMs() - start_ms, out);
  return ClassifyHealth(now).health == Health::kHealthy ? kExitOk
                                                        : kExitProblems;
}

} // namespace replfs::ctl
