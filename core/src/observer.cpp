// The observer list of a run, and the registry of observer factories.
#include <algorithm>
#include <exception>
#include <tuple>

#include <mip/core/observer.hpp>

namespace mip {

namespace {
struct Registered {
  int order;
  std::string name;
  ObserverFactory factory;
};

std::vector<Registered>& registered() {
  static std::vector<Registered> list;
  return list;
}
}  // namespace

ObserverRegistration::ObserverRegistration(int order,
                                           const char* name,
                                           ObserverFactory factory) {
  auto& list = registered();
  list.push_back({order, name, std::move(factory)});
  std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
    return std::tie(a.order, a.name) < std::tie(b.order, b.name);
  });
}

void Observers::attach(const Run& run) {
  for (const auto& r : registered())
    add(r.factory(run, *this));
}

void Observers::add(std::unique_ptr<RunObserver> observer) {
  if (observer)
    list_.push_back(std::move(observer));
}

void Observers::run_ended(const RunEnded& e) {
  if (!started_ || ended_)
    return;
  ended_ = true;
  // Every observer hears the end even when one fails (a full disk must not
  // keep status.yaml from saying so); the first error is thrown after.
  std::exception_ptr first;
  for (const auto& o : list_) {
    try {
      o->run_ended(e);
    } catch (...) {
      if (!first)
        first = std::current_exception();
    }
  }
  if (first)
    std::rethrow_exception(first);
}

void Observers::flush() {
  for (const auto& o : list_)
    o->flush();
}

}  // namespace mip
