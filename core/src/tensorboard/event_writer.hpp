#pragma once

// TensorBoard event files, written without TensorFlow or libprotobuf: the few
// messages TensorBoard reads (Event, Summary, HistogramProto, SessionLog) are
// encoded by hand (protobuf wire format) and framed as TFRecords (length,
// masked CRC-32C of the length, data, masked CRC-32C of the data).
// docs/tensorboard.md says why and what is written.

#include <cstdint>
#include <string>
#include <vector>

namespace mip::tensorboard {

/// A histogram as TensorBoard's HistogramProto holds it: bucket i counts the
/// values in (bucket_limit[i-1], bucket_limit[i]], the first from `min`.
struct Histogram {
  double min = 0, max = 0, num = 0, sum = 0, sum_squares = 0;
  std::vector<double> bucket_limit;
  std::vector<double> bucket;
};

/// One Summary.Value: a scalar (simple_value) or a histogram (histo).
struct Value {
  std::string tag;
  double scalar = 0;
  const Histogram* histogram = nullptr;  ///< set: a histogram, not a scalar
};

/// Protobuf bytes of an Event (exposed for the framing and its test).
std::string encode_file_version_event(double wall_time);
std::string encode_summary_event(double wall_time,
                                 int64_t step,
                                 const std::vector<Value>& values);
/// SessionLog START at `step`: TensorBoard hides the run's older points at
/// steps >= `step` (a resumed run writes them again).
std::string encode_session_start_event(double wall_time, int64_t step);

/// A TFRecord: uint64 length (LE), masked CRC-32C of those 8 bytes, the data,
/// masked CRC-32C of the data.
std::string frame_record(const std::string& data);

/// TFRecord's masked CRC-32C (Castagnoli).
uint32_t masked_crc32c(const char* data, size_t n);

/// One events file, events.out.tfevents.<unix time>.<host>.<pid>[.<n>], in a
/// run folder (created). Records are buffered and written by flush(), which
/// cuts the file back to its last complete record when a write fails and
/// throws mip::Error naming the file.
class EventWriter {
 public:
  /// Creates the folder and a new file starting with the file_version event;
  /// `purge_from` >= 0 adds a SessionLog START at that step.
  EventWriter(const std::string& folder, int64_t purge_from);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  /// Queues one Event of `values` at `step`.
  void write(int64_t step, const std::vector<Value>& values);
  /// Writes everything queued (TensorBoard sees it from now on).
  void flush();
  const std::string& path() const { return path_; }

 private:
  void queue(const std::string& event);

  std::string path_;
  int fd_ = -1;
  std::string pending_;    ///< framed records not yet written
  int64_t good_size_ = 0;  ///< bytes on disk up to the last complete record
};

/// Seconds since the epoch (Event.wall_time).
double wall_time_now();

}  // namespace mip::tensorboard
