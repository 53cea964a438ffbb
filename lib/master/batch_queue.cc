#include "master/batch_queue.h"

#include <algorithm>
#include <cassert>

#include <fmt/format.h>

namespace parallelrun {

void BatchQueue::Add(MiniBatch batch) {
  MiniBatchId id = batch.id;
  counters_.batches_added++;
  counters_.items_added += batch.ItemCount();
  Entry e;
  e.batch = std::make_shared<const MiniBatch>(std::move(batch));
  bool inserted = live_.emplace(id, std::move(e)).second;
  assert(inserted && "mini-batch ids are unique");
  (void)inserted;
  pending_.push_back(id);
}

std::optional<BatchQueue::Lease> BatchQueue::LeaseNext(AgentId agent) {
  if (pending_.empty()) return std::nullopt;
  MiniBatchId id = pending_.front();
  pending_.pop_front();
  Entry& e = live_.at(id);
  e.leased = true;
  e.agent = agent;
  e.attempts++;
  e.primary = e.attempts;
  e.leased_at = now_;
  return Lease{e.batch, e.attempts};
}

void BatchQueue::PromoteTwin(Entry* e) {
  e->primary = e->twin;
  e->agent = e->twin_agent;
  e->leased_at = e->twin_leased_at;
  e->twin = 0;
}

void BatchQueue::AddDuration(double seconds) {
  if (durations_.size() < kDurationsKept) {
    durations_.push_back(seconds);
  } else {
    durations_[durations_next_] = seconds;
    durations_next_ = (durations_next_ + 1) % kDurationsKept;
  }
}

double BatchQueue::MedianSeconds() const {
  if (durations_.empty()) return 0;
  std::vector<double> d = durations_;
  auto mid = d.begin() + static_cast<std::ptrdiff_t>(d.size() / 2);
  std::nth_element(d.begin(), mid, d.end());
  return *mid;
}

std::optional<BatchQueue::Straggler> BatchQueue::LeaseStraggler(AgentId agent) {
  if (limits_.straggler_factor <= 0 || !adding_closed_ || !pending_.empty()) return std::nullopt;
  if (durations_.size() < std::max<uint32_t>(limits_.straggler_min_samples, 1)) return std::nullopt;
  double median = MedianSeconds();
  double bound = std::max(limits_.straggler_factor * median, limits_.straggler_min_seconds);
  Entry* slowest = nullptr;
  MiniBatchId slowest_id = 0;
  // Only leased mini-batches are live here (nothing is pending): a few.
  for (auto& [id, e] : live_) {
    // A mini-batch whose attempt failed before is failing, not slow: its
    // retries follow run_max_try, not this rule.
    if (!e.leased || e.twin != 0 || e.latest_failed) continue;
    double ran = now_ - e.leased_at;
    if (ran <= bound) continue;
    if (!slowest || ran > now_ - slowest->leased_at ||
        (ran == now_ - slowest->leased_at && id < slowest_id)) {
      slowest = &e;
      slowest_id = id;
    }
  }
  if (!slowest) return std::nullopt;
  Entry& e = *slowest;
  e.attempts++;
  e.twin = e.attempts;
  e.twin_agent = agent;
  e.twin_leased_at = now_;
  return Straggler{Lease{e.batch, e.twin}, e.primary,    e.agent,
                   now_ - e.leased_at,      median,       durations_.size()};
}

void BatchQueue::SetLatest(Entry* e, bool failed, uint64_t failed_items) {
  counters_.items_failed -= e->latest_failed_items;
  counters_.items_failed += failed_items;
  if (e->latest_failed != failed) {
    if (failed) counters_.batches_latest_failed++;
    else counters_.batches_latest_failed--;
  }
  e->latest_failed = failed;
  e->latest_failed_items = failed_items;
}

BatchQueue::Verdict BatchQueue::Finish(const AttemptResult& r, Cancel* cancel) {
  if (cancel) *cancel = Cancel{};
  auto it = live_.find(r.id);
  if (it == live_.end()) return Verdict::kStale;
  Entry& e = it->second;
  bool is_primary = e.leased && e.primary == r.attempt;
  bool is_twin = e.twin != 0 && e.twin == r.attempt;
  if (!is_primary && !is_twin) return Verdict::kStale;
  counters_.attempts++;
  // A table mini-batch's rows are known once a worker has read them: the
  // attempt reports them. Rows not known when it was added count from its
  // last attempt.
  bool tabular = IsTabular(e.batch->kind);
  uint64_t total = tabular ? r.total : e.batch->items.size();
  uint64_t unknown_rows = tabular && e.batch->known_rows == 0 ? total : 0;
  if (!AttemptFailed(r.status)) {
    AddDuration(now_ - (is_twin ? e.twin_leased_at : e.leased_at));
    if (cancel && e.twin != 0) {
      *cancel = is_twin ? Cancel{r.id, e.primary, e.agent} : Cancel{r.id, e.twin, e.twin_agent};
    }
    uint64_t succeeded = std::min(r.succeeded, total);
    SetLatest(&e, false, total - succeeded);
    counters_.batches_done++;
    counters_.items_succeeded += succeeded;
    counters_.items_added += unknown_rows;
    live_.erase(it);
    return Verdict::kDone;
  }
  if (e.twin != 0) {
    // The other attempt goes on and decides; this one used up its try.
    if (is_primary) PromoteTwin(&e);
    else e.twin = 0;
    return Verdict::kOtherRunning;
  }
  SetLatest(&e, true, total);
  if (static_cast<int>(e.attempts - e.budget_base) < limits_.max_tries) {
    e.leased = false;
    counters_.retries++;
    if (!e.retried) {
      e.retried = true;
      counters_.batches_retried++;
      counters_.items_retried += total;
    }
    pending_.push_front(r.id);
    return Verdict::kRetry;
  }
  counters_.batches_failed++;
  counters_.items_added += unknown_rows;
  live_.erase(it);
  return Verdict::kFailed;
}

BatchQueue::Verdict BatchQueue::Replay(const AttemptResult& r) {
  auto it = live_.find(r.id);
  if (it == live_.end() || it->second.leased) return Verdict::kStale;
  // Pending: take it out of the queue as a lease would, then finish it.
  for (auto p = pending_.begin(); p != pending_.end(); ++p) {
    if (*p == r.id) {
      pending_.erase(p);
      break;
    }
  }
  it->second.leased = true;
  it->second.attempts = r.attempt;
  it->second.primary = r.attempt;
  it->second.leased_at = now_;
  return Finish(r);
}

void BatchQueue::Revive(MiniBatch batch, uint32_t prior_attempts, uint64_t last_total) {
  MiniBatchId id = batch.id;
  // It counted as failed (and, for rows known only from attempts, its rows
  // were added) when it failed for good; it counts as failed until it
  // succeeds, so only "finished" is taken back.
  counters_.batches_failed--;
  if (IsTabular(batch.kind) && batch.known_rows == 0) counters_.items_added -= last_total;
  Entry e;
  e.batch = std::make_shared<const MiniBatch>(std::move(batch));
  e.attempts = e.budget_base = prior_attempts;
  e.latest_failed = true;
  e.latest_failed_items = last_total;
  live_.emplace(id, std::move(e));
  pending_.push_back(id);
}

bool BatchQueue::Return(MiniBatchId id, uint32_t attempt) {
  auto it = live_.find(id);
  if (it == live_.end()) return false;
  Entry& e = it->second;
  if (e.twin != 0 && e.twin == attempt) {
    // The twin is always the latest attempt: its number is free again.
    e.twin = 0;
    e.attempts--;
    return true;
  }
  if (!e.leased || e.primary != attempt) return false;
  if (e.twin != 0) {
    PromoteTwin(&e);  // the straggler copy is now the only attempt
    return true;
  }
  it->second.leased = false;
  // Its number is free again unless a twin that failed came after it.
  if (e.attempts == e.primary) e.attempts--;
  pending_.push_front(id);
  return true;
}

size_t BatchQueue::ReleaseAgent(AgentId agent) {
  size_t n = 0;
  for (auto& [id, e] : live_) {
    if (e.twin != 0 && e.twin_agent == agent) {
      e.twin = 0;
      e.attempts--;
    }
    if (e.leased && e.agent == agent && e.twin != 0) {
      PromoteTwin(&e);
      continue;
    }
    if (e.leased && e.agent == agent) {
      e.leased = false;
      if (e.attempts == e.primary) e.attempts--;
      pending_.push_front(id);
      n++;
    }
  }
  return n;
}

std::optional<std::string> BatchQueue::ExceededThreshold() const {
  const Counters& c = counters_;
  if (limits_.error_threshold >= 0 &&
      c.items_failed > static_cast<uint64_t>(limits_.error_threshold)) {
    return fmt::format("error_threshold exceeded: {} failed items > {}", c.items_failed,
                       limits_.error_threshold);
  }
  if (limits_.allowed_failed_count >= 0 &&
      c.batches_latest_failed > static_cast<uint64_t>(limits_.allowed_failed_count)) {
    return fmt::format(
        "allowed_failed_count (mini_batch_error_threshold) exceeded: {} failed mini-batches > {}",
        c.batches_latest_failed, limits_.allowed_failed_count);
  }
  if (adding_closed_ && limits_.allowed_failed_percent < 100 && c.batches_added > 0) {
    double percent = 100.0 * static_cast<double>(c.batches_latest_failed) /
                     static_cast<double>(c.batches_added);
    if (percent > limits_.allowed_failed_percent) {
      return fmt::format(
          "allowed_failed_percent exceeded: {} of {} mini-batches failed ({:.2f}% > {}%)",
          c.batches_latest_failed, c.batches_added, percent, limits_.allowed_failed_percent);
    }
  }
  return std::nullopt;
}

}  // namespace parallelrun
