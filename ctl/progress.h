// Progress of the long fsctl commands (scrub --wait, heal --wait): a bar
// redrawn in place on a terminal, plain lines every few seconds otherwise;
// and the clock they wait with, behind an interface so tests do not sleep.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace replfs::ctl {

class Clock {
public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() = 0; // epoch milliseconds
  virtual void SleepMs(int64_t ms) = 0;
};

// The system clock. Never null; lives for the process.
Clock *RealClock();

// "[#########...........]  45.0%": `width` cells, fraction clamped to 0..1.
std::string RenderBar(double fraction, int width);

// Writes progress updates to `out`. On a TTY every Update() redraws one line
// ("\r" + bar + text, padded over the previous text); otherwise Update()
// prints "text" as a line of its own at most every `plain_every_ms`.
class ProgressPrinter {
public:
  // `out` and `clock` outlive the printer.
  ProgressPrinter(std::ostream *out, Clock *clock, bool tty,
                  int64_t plain_every_ms = 5000)
      : out_(*out), clock_(clock), tty_(tty), plain_every_ms_(plain_every_ms) {}

  // `label` names the operation ("scrub"); `fraction` < 0 shows no bar.
  void Update(const std::string &label, double fraction,
              const std::string &text);
  // Ends the in-place line on a TTY (so what follows starts on a new line).
  void Finish();

  // The TTY line Update() would draw, without "\r" and padding.
  static std::string TtyLine(const std::string &label, double fraction,
                             const std::string &text);
  // The plain line Update() would print, without the newline.
  static std::string PlainLine(const std::string &label, double fraction,
                               const std::string &text);

private:
  std::ostream &out_;
  Clock *const clock_;
  const bool tty_;
  const int64_t plain_every_ms_;
  size_t last_width_ = 0;      // TTY: length of the line drawn last
  int64_t last_plain_ms_ = -1; // plain: when the last line was printed
};

} // namespace replfs::ctl
