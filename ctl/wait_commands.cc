// `fsctl scrub`: starts passes and optionally waits for them (and for the
// repairs of what they found) with progress, by polling Status. Heal is in
// heal_command.cc.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "ctl/commands.h"
#include "ctl/format.h"
#include "ctl/status_report.h"

namespace replfs::ctl {
namespace {

const ServerInfo *FindServer(const ClusterStatus &s, const std::string &addr) {
  for (const ServerInfo &i : s.servers) {
    if (i.addr == addr)
      return &i;
  }
  return nullptr;
}

// One targeted datad's pass, as seen across polls.
struct ScrubTarget {
  explicit ScrubTarget(std::string a) : addr(std::move(a)) {}
  std::string addr;
  bool seen_running = false;
  bool done = false;
  bool lost = false; // went down or was forgotten before finishing
  ScrubInfo last;
};

// Updates `t` from a Status answer. A pass counts as the one we asked for
// when it ended after `start_ms`, or when we saw it running and it stopped
// (which also covers a datad whose clock is behind ours).
void TrackScrub(const ClusterStatus &s, int64_t start_ms, ScrubTarget *t) {
  if (t->done || t->lost)
    return;
  const ServerInfo *i = FindServer(s, t->addr);
  if (i == nullptr || i->state == ServerState::kDown) {
    t->lost = true;
    return;
  }
  t->last = i->scrub;
  if (i->scrub.running) {
    t->seen_running = true;
  } else if (i->scrub.last_full_pass_ms >= start_ms || t->seen_running) {
    t->done = true;
  }
}

std::string ScrubProgressText(const std::vector<ScrubTarget> &targets,
                              double *fraction) {
  int done = 0;
  int64_t verified = 0, corrupt = 0;
  double sum = 0;
  for (const ScrubTarget &t : targets) {
    done += t.done || t.lost;
    sum += t.done || t.lost ? 1.0 : (t.last.running ? t.last.progress : 0.0);
    verified += t.last.bytes_verified;
    corrupt += t.last.corrupt_found_pass;
  }
  *fraction = targets.empty() ? 1.0 : sum / static_cast<double>(targets.size());
  return std::to_string(done) + "/" + std::to_string(targets.size()) +
         " datads done, " + FormatBytes(verified) + " verified, " +
         std::to_string(corrupt) + " corrupt found";
}

int64_t CorruptFound(const std::vector<ScrubTarget> &targets) {
  int64_t found = 0;
  for (const ScrubTarget &t : targets)
    found += t.lost ? 0 : t.last.corrupt_found_pass;
  return found;
}

// How long the summary waits for metad to repair what the passes found.
constexpr int64_t kRepairWaitMs = 60'000;

// Corruption a pass finds reaches metad in the datad's heartbeats, and metad
// drops the bad replica and queues its repair. Polls until metad knows no
// corrupt replica, at least once after the answer that showed the passes
// done (a heartbeat is recorded a moment before its corrupt list is
// handled), for at most kRepairWaitMs and never past `until_ms`. *now is the
// last answer; false (with *s) when metad did not answer.
bool WaitForRepairs(MetaApi *api, const WaitOptions &w, int64_t until_ms,
                    int64_t repaired_before, ProgressPrinter *progress,
                    ClusterStatus *now, Status *s) {
  until_ms = std::min(until_ms, w.clock->NowMs() + kRepairWaitMs);
  while (w.clock->NowMs() < until_ms) {
    w.clock->SleepMs(w.poll_ms);
    *s = api->GetStatus(now);
    if (!s->ok())
      return false;
    progress->Update("scrub", 1.0,
                     "passes done; waiting for repair: " +
                         std::to_string(now->chunks.corrupt_replicas) +
                         " corrupt replicas known, " +
                         std::to_string(now->repair_queued) + " queued, " +
                         std::to_string(now->repair_done - repaired_before) +
                         " repaired");
    if (now->chunks.corrupt_replicas == 0)
      break;
  }
  return true;
}

void PrintScrubSummary(const std::vector<ScrubTarget> &targets,
                       const ClusterStatus &before, const ClusterStatus &after,
                       std::ostream &out) {
  for (const ScrubTarget &t : targets) {
    if (t.lost) {
      out << "  " << t.addr << ": went down, pass not confirmed\n";
      continue;
    }
    out << "  " << t.addr << ": pass done, " << t.last.corrupt_found_pass
        << " corrupt blocks found, " << FormatBytes(t.last.bytes_verified)
        << " verified\n";
  }
  out << "scrub: " << CorruptFound(targets)
      << " corrupt blocks found; repaired "
      << after.repair_done - before.repair_done << " chunks; "
      << after.repair_queued << " repairs queued, "
      << after.chunks.corrupt_replicas << " corrupt replicas known"
      << std::endl;
}

} // namespace

int RunScrub(MetaApi *api, const std::string &server, const WaitOptions &w,
             std::ostream &out, std::ostream &err) {
  ClusterStatus before;
  Status s = api->GetStatus(&before);
  if (!s.ok()) {
    err << DescribeError(s, api->addr()) << std::endl;
    return kExitUnavailable;
  }
  const int64_t start_ms = w.clock->NowMs();
  s = api->StartScrub(server);
  if (s.IsNotFound()) {
    err << "fsctl: " << server << ": unknown server (fsctl servers lists them)"
        << std::endl;
    return kExitProblems;
  }
  if (!s.ok()) {
    // e.g. metad's "datad X is down": its answer, not an unreachable metad.
    err << DescribeError(s.WithContext("scrub"), api->addr()) << std::endl;
    return ExitCodeFor(s);
  }
  std::vector<ScrubTarget> targets;
  if (!server.empty()) {
    targets.emplace_back(server);
  } else {
    // The servers metad starts a pass on: up ones, draining ones included.
    for (const ServerInfo &i : before.servers) {
      if (i.state != ServerState::kDown)
        targets.emplace_back(i.addr);
    }
  }
  out << "scrub started on "
      << (server.empty() ? std::to_string(targets.size()) + " datads" : server)
      << std::endl;
  if (!w.wait)
    return kExitOk;

  ProgressPrinter progress(&out, w.clock, w.tty, w.plain_every_ms);
  ClusterStatus now;
  for (;;) {
    s = api->GetStatus(&now);
    if (!s.ok()) {
      progress.Finish();
      err << DescribeError(s, api->addr()) << std::endl;
      return kExitUnavailable;
    }
    for (ScrubTarget &t : targets)
      TrackScrub(now, start_ms, &t);
    double fraction = 0;
    const std::string text = ScrubProgressText(targets, &fraction);
    progress.Update("scrub", fraction, text);
    if (std::all_of(targets.begin(), targets.end(),
                    [](const ScrubTarget &t) { return t.done || t.lost; })) {
      break;
    }
    if (w.clock->NowMs() - start_ms >= w.timeout_ms) {
      progress.Finish();
      err << "fsctl: scrub not finished after " << FormatDuration(w.timeout_ms)
          << " (" << text << ")" << std::endl;
      return kExitUnavailable;
    }
    w.clock->SleepMs(w.poll_ms);
  }
  const int64_t found = CorruptFound(targets);
  if (found > 0 && !WaitForRepairs(api, w, start_ms + w.timeout_ms,
                                   before.repair_done, &progress, &now, &s)) {
    progress.Finish();
    err << DescribeError(s, api->addr()) << std::endl;
    return kExitUnavailable;
  }
  progress.Finish();
  PrintScrubSummary(targets, before, now, out);
  const bool unrepaired = found > 0 && now.chunks.corrupt_replicas > 0;
  if (unrepaired) {
    out << "scrub: " << now.chunks.corrupt_replicas
        << " corrupt replicas still wait for repair (fsctl heal --wait "
           "repairs them now and says why not)"
        << std::endl;
  }
  const bool lost = std::any_of(targets.begin(), targets.end(),
                                [](const ScrubTarget &t) { return t.lost; });
  return lost || unrepaired ? kExitProblems : kExitOk;
}

} // namespace replfs::ctl
