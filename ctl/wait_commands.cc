// fsctl's long operations: scrub and heal, optionally waited for with
// progress by polling Status.
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

void PrintScrubSummary(const std::vector<ScrubTarget> &targets,
                       const ClusterStatus &before, const ClusterStatus &after,
                       std::ostream &out) {
  int64_t found = 0;
  for (const ScrubTarget &t : targets) {
    if (t.lost) {
      out << "  " << t.addr << ": went down, pass not confirmed\n";
      continue;
    }
    found += t.last.corrupt_found_pass;
    out << "  " << t.addr << ": pass done, " << t.last.corrupt_found_pass
        << " corrupt blocks found, " << FormatBytes(t.last.bytes_verified)
        << " verified\n";
  }
  out << "scrub: " << found << " corrupt blocks found; repaired "
      << after.repair_done - before.repair_done << " chunks meanwhile; "
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
    err << DescribeError(s, api->addr()) << std::endl;
    return ExitCodeFor(s);
  }
  std::vector<ScrubTarget> targets;
  if (!server.empty()) {
    targets.emplace_back(server);
  } else {
    for (const ServerInfo &i : before.servers) {
      if (i.state == ServerState::kUp)
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
  progress.Finish();
  PrintScrubSummary(targets, before, now, out);
  const bool lost = std::any_of(targets.begin(), targets.end(),
                                [](const ScrubTarget &t) { return t.lost; });
  return lost ? kExitProblems : kExitOk;
}

namespace {

std::string HealProgressText(const ClusterStatus &s, int64_t repaired) {
  return std::to_string(s.repair_queued) + " queued (" +
         FormatBytes(s.repair_bytes_queued) + "), " +
         FormatRate(s.repair_bytes_per_s) + ", ETA " +
         FormatEta(s.repair_bytes_queued, s.repair_bytes_per_s) + ", " +
         std::to_string(repaired) + " repaired, " +
         std::to_string(s.chunks.under_replicated) + " under goal";
}

// Heal has nothing left to do: every chunk at its goal, or an empty queue
// with heal no longer running for long enough that metad's rescan is in.
bool HealFinished(const ClusterStatus &s, int64_t elapsed_ms,
                  int64_t settle_ms) {
  if (s.repair_queued > 0)
    return false;
  if (s.chunks.under_replicated == 0 && s.chunks.unavailable == 0)
    return true;
  return !s.heal_running && elapsed_ms >= settle_ms;
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
    err << DescribeError(s, api->addr()) << std::endl;
    return ExitCodeFor(s);
  }
  out << "heal started: " << before.chunks.under_replicated
      << " chunks under goal, " << before.chunks.unavailable << " unavailable, "
      << before.repair_queued << " queued" << std::endl;
  if (!w.wait)
    return kExitOk;

  // An empty queue right after Heal() may predate metad's rescan.
  const int64_t settle_ms = std::max<int64_t>(3000, 2 * w.poll_ms);
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
    const int64_t elapsed = w.clock->NowMs() - start_ms;
    if (HealFinished(now, elapsed, settle_ms))
      break;
    if (elapsed >= w.timeout_ms) {
      progress.Finish();
      err << "fsctl: heal not finished after " << FormatDuration(w.timeout_ms)
          << " (" << text << ")" << std::endl;
      return kExitUnavailable;
    }
    w.clock->SleepMs(w.poll_ms);
  }
  progress.Finish();
  const HealthVerdict v = ClassifyHealth(now);
  out << "heal: " << now.repair_done - before.repair_done
      << " chunks repaired in " << FormatDuration(w.clock->NowMs() - start_ms)
      << "; cluster " << HealthName(v.health);
  if (!v.reasons.empty()) {
    out << ", still degraded:";
    const char *sep = " ";
    for (const std::string &r : v.reasons) {
      out << sep << r;
      sep = ", ";
    }
  }
  out << std::endl;
  return v.health == Health::kHealthy ? kExitOk : kExitProblems;
}

} // namespace replfs::ctl
