#include <mip/core/files.hpp>
#include <mip/core/statistics.hpp>
#include <mip/core/text.hpp>
#include <mip/sdk/error.hpp>

#include <sstream>

#include <fmt/format.h>

#include <iterator>

#include <stdio_ext.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include <mip/sdk/error.hpp>

namespace mip {

std::string format_statistic(const std::string& format, double value) {
  const bool integral = format.size() >= 3 &&
                        format[format.size() - 2] == 'd' &&
                        format.back() == '}';
  try {
    if (integral)
      return fmt::format(fmt::runtime(format), std::llround(value));
    return fmt::format(fmt::runtime(format), value);
  } catch (const fmt::format_error& e) {
    throw Error("statistics format [" + format + "] is invalid: " + e.what());
  }
}

void StatisticsTable::declare(const std::string& key,
                              const std::string& format) {
  if (index_.count(key))
    return;
  format_statistic(format, 0.0);  // validate now, not at the first write
  index_[key] = keys_.size();
  keys_.push_back(key);
  formats_.push_back(format);
}

const std::string& StatisticsTable::format(const std::string& key) const {
  return formats_[index(key)];
}

size_t StatisticsTable::index(const std::string& key) const {
  auto it = index_.find(key);
  MIP_CHECK(it != index_.end(), Error, "statistic [", key,
            "] was never declared; declare it in add_statistics() / "
            "add_aggregators()");
  return it->second;
}

std::string StatisticsTable::csv_header() const {
  std::string out;
  for (size_t i = 0; i < keys_.size(); ++i)
    out += (i ? "," : "") + keys_[i];
  return out;
}

void StatisticsCollector::add_statistic(const std::string& key,
                                        const std::string& format) {
  declare(key, format);
  values_.resize(keys_.size());
}

void StatisticsCollector::collect(const std::string& key, double value) {
  values_[index(key)].push_back(value);
}

void StatisticsCollector::set_last(const std::string& key, double value) {
  auto& values = values_[index(key)];
  MIP_INTERNAL_ASSERT(!values.empty());
  values.back() = value;
}

const std::vector<double>& StatisticsCollector::values(
    const std::string& key) const {
  return values_[index(key)];
}

void StatisticsCollector::reset() {
  for (auto& v : values_)
    v.clear();
}

size_t StatisticsCollector::count() const {
  return values_.empty() ? 0 : values_.front().size();
}

namespace {
/// Appends `value` formatted with `format` (no temporary strings).
void append_statistic(std::string& out,
                      const std::string& format,
                      double value) {
  const bool integral = format.size() >= 3 && format[format.size() - 2] == 'd';
  if (integral)
    fmt::format_to(std::back_inserter(out), fmt::runtime(format),
                   std::llround(value));
  else
    fmt::format_to(std::back_inserter(out), fmt::runtime(format), value);
}
}  // namespace

std::string StatisticsCollector::csv_row() const {
  std::string out;
  out.reserve(16 * keys_.size());
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (i)
      out += ',';
    if (!values_[i].empty())
      append_statistic(out, formats_[i], values_[i].back());
  }
  return out;
}

std::string StatisticsCollector::line(const std::string& tag) const {
  std::string out;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (values_[i].empty())
      continue;
    out += keys_[i] + " " + format_statistic(formats_[i], values_[i].back()) +
           "; ";
  }
  return out + "[" + tag + "]";
}

void StatisticsAggregator::add_aggregator(const std::string& key,
                                          const std::string& format) {
  declare(key, format);
  values_.resize(keys_.size(), -1.0);
}

void StatisticsAggregator::set(const std::string& key, double value) {
  values_[index(key)] = value;
}

double StatisticsAggregator::get(const std::string& key) const {
  return values_[index(key)];
}

std::string StatisticsAggregator::csv_row() const {
  std::string out;
  for (size_t i = 0; i < keys_.size(); ++i)
    out += (i ? "," : "") + format_statistic(formats_[i], values_[i]);
  return out;
}

std::string StatisticsAggregator::line(const std::string& tag) const {
  std::string out;
  for (size_t i = 0; i < keys_.size(); ++i)
    out += keys_[i] + " " + format_statistic(formats_[i], values_[i]) + "; ";
  return out + "[" + tag + "]";
}

CsvWriter::~CsvWriter() {
  close();
}

void CsvWriter::open(const std::string& path,
                     const std::string& header,
                     bool append) {
  close();
  const bool exists = std::filesystem::exists(path);
  file_ = std::fopen(path.c_str(), append ? "a" : "w");
  if (file_ == nullptr)
    throw_write_error(path, errno);
  path_ = path;
  stop_ = false;
  error_ = 0;
  reported_ = false;
  std::fseek(file_, 0, SEEK_END);
  good_size_ = std::ftell(file_);
  if (!append || !exists) {
    put(header.data(), header.size());
    put("\n", 1);
    commit();
    check();
  }
}

void CsvWriter::put(const char* data, size_t n) {
  if (error_ == 0 && std::fwrite(data, 1, n, file_) != n)
    error_ = errno ? errno : EIO;
}

void CsvWriter::commit() {
  if (error_ == 0 && std::fflush(file_) != 0)
    error_ = errno ? errno : EIO;
  if (error_ == 0) {
    good_size_ = std::ftell(file_);
    return;
  }
  // Nothing half-written stays: the unwritten buffer is dropped and the file
  // cut back to its last complete row.
  __fpurge(file_);
  if (::ftruncate(::fileno(file_), good_size_) == 0)
    std::fseek(file_, 0, SEEK_END);
}

void CsvWriter::check() {
  if (error_ != 0 && !reported_) {
    reported_ = true;  // once: the run is failing, the end need not repeat it
    throw_write_error(path_, error_);
  }
}

void CsvWriter::write(const std::string& row) {
  MIP_INTERNAL_ASSERT(file_ != nullptr);
  flush();  // after the queued rows
  put(row.data(), row.size());
  put("\n", 1);
}

void CsvWriter::write_last(const StatisticsCollector& col) {
  const auto& keys = col.keys();
  if (formats_.size() != keys.size()) {
    flush();
    formats_.clear();
    for (const auto& k : keys)
      formats_.push_back(col.format(k));
  }
  for (const auto& k : keys) {
    const auto& v = col.values(k);
    staged_.values.push_back(v.empty() ? 0.0 : v.back());
    staged_.present.push_back(v.empty() ? 0 : 1);
  }
}

void CsvWriter::format_and_write(const Rows& rows) {
  std::string out;
  const size_t cols = formats_.size();
  out.reserve(rows.values.size() * 14);
  for (size_t i = 0; i < rows.values.size(); ++i) {
    const size_t c = i % cols;
    if (c)
      out += ',';
    if (rows.present[i])
      append_statistic(out, formats_[c], rows.values[i]);
    if (c + 1 == cols)
      out += '\n';
  }
  put(out.data(), out.size());
  commit();
}

void CsvWriter::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !pending_.values.empty(); });
    if (pending_.values.empty())
      return;  // stopping, nothing left
    Rows rows;
    std::swap(rows, pending_);
    lock.unlock();
    format_and_write(rows);
    lock.lock();
    if (pending_.values.empty())
      busy_ = false;
    cv_.notify_all();
  }
}

void CsvWriter::flush_async() {
  if (staged_.values.empty() || file_ == nullptr)
    return;
  std::lock_guard<std::mutex> lock(mutex_);
  check();  // a failure of the formatter thread stops the run here
  if (!thread_.joinable())
    thread_ = std::thread([this] { loop(); });
  auto& p = pending_;
  p.values.insert(p.values.end(), staged_.values.begin(), staged_.values.end());
  p.present.insert(p.present.end(), staged_.present.begin(),
                   staged_.present.end());
  staged_.values.clear();
  staged_.present.clear();
  busy_ = true;
  cv_.notify_all();
}

void CsvWriter::flush() {
  if (file_ == nullptr)
    return;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return !busy_; });
  }
  if (!staged_.values.empty()) {
    format_and_write(staged_);
    staged_.values.clear();
    staged_.present.clear();
  }
  commit();
  check();
}

void CsvWriter::sync() {
  flush();
  if (file_ != nullptr && ::fsync(::fileno(file_)) != 0 && errno != EINVAL)
    throw_write_error(path_, errno);
}

void CsvWriter::close() noexcept {
  if (file_ == nullptr)
    return;
  try {
    flush();
  } catch (const std::exception&) {
    // Reported by the flush that failed first; nothing more to save here.
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
  if (error_ != 0)
    __fpurge(file_);
  std::fclose(file_);
  file_ = nullptr;
  formats_.clear();
}

}  // namespace mip
