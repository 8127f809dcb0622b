#include "ctl/progress.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

namespace replfs::ctl {
namespace {

class SystemClock : public Clock {
public:
  int64_t NowMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void SleepMs(int64_t ms) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
};

std::string Percent(double fraction) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%5.1f%%",
                std::clamp(fraction, 0.0, 1.0) * 100);
  return buf;
}

} // namespace

Clock *RealClock() {
  static SystemClock clock;
  return &clock;
}

std::string RenderBar(double fraction, int width) {
  const double f = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(f * width);
  return "[" + std::string(filled, '#') + std::string(width - filled, '.') +
         "] " + Percent(f);
}

std::string ProgressPrinter::TtyLine(const std::string &label, double fraction,
                                     const std::string &text) {
  std::string line = label + " ";
  if (fraction >= 0)
    line += RenderBar(fraction, 30) + "  ";
  return line + text;
}

std::string ProgressPrinter::PlainLine(const std::string &label,
                                       double fraction,
                                       const std::string &text) {
  std::string line = label + ":";
  if (fraction >= 0)
    line += " " + Percent(fraction) + ",";
  return line + " " + text;
}

void ProgressPrinter::Update(const std::string &label, double fraction,
                             const std::string &text) {
  if (tty_) {
    const std::string line = TtyLine(label, fraction, text);
    // Pad over a longer previous line instead of relying on terminal codes.
    out_ << "\r" << line
         << std::string(
                last_width_ > line.size() ? last_width_ - line.size() : 0, ' ');
    last_width_ = line.size();
    out_.flush();
    return;
  }
  const int64_t now = clock_->NowMs();
  if (last_plain_ms_ >= 0 && now - last_plain_ms_ < plain_every_ms_)
    return;
  last_plain_ms_ = now;
  out_ << PlainLine(label, fraction, text) << std::endl;
}

void ProgressPrinter::Finish() {
  if (tty_ && last_width_ > 0)
    out_ << "\n";
  last_width_ = 0;
  out_.flush();
}

} // namespace replfs::ctl
