// TensorBoard event files: protobuf encoding of the few messages needed, the
// TFRecord framing, and the file itself.
#include "event_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/crc.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <mip/core/files.hpp>
#include <mip/sdk/error.hpp>

namespace mip::tensorboard {

namespace {

// --- protobuf wire format (only what the messages below use)

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kBytes = 2,
  kFixed32 = 5
};

class Proto {
 public:
  void tag(uint32_t field, WireType type) { varint((field << 3) | type); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void int64_field(uint32_t field, int64_t v) {
    tag(field, kVarint);
    varint(static_cast<uint64_t>(v));  // negative: ten bytes, as protobuf
  }
  void double_field(uint32_t field, double v) {
    tag(field, kFixed64);
    raw(v);
  }
  void float_field(uint32_t field, float v) {
    tag(field, kFixed32);
    raw(v);
  }
  void bytes_field(uint32_t field, const std::string& s) {
    tag(field, kBytes);
    varint(s.size());
    out_ += s;
  }
  void packed_doubles(uint32_t field, const std::vector<double>& values) {
    tag(field, kBytes);
    varint(values.size() * sizeof(double));
    for (double v : values)
      raw(v);
  }
  std::string& str() { return out_; }

 private:
  template <typename T>
  void raw(T v) {  // little-endian, as the wire format (x86, ARM)
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out_.append(b, sizeof(T));
  }
  std::string out_;
};

// Field numbers of tensorflow/core/util/event.proto and
// tensorflow/core/framework/summary.proto.
namespace event {
constexpr uint32_t kWallTime = 1, kStep = 2, kFileVersion = 3, kSummary = 5,
                   kSessionLog = 7;
}
namespace summary {
constexpr uint32_t kValue = 1;
}
namespace value {
constexpr uint32_t kTag = 1, kSimpleValue = 2, kHisto = 5;
}
namespace histo {
constexpr uint32_t kMin = 1, kMax = 2, kNum = 3, kSum = 4, kSumSquares = 5,
                   kBucketLimit = 6, kBucket = 7;
}
namespace session_log {
constexpr uint32_t kStatus = 1;
constexpr uint64_t kStart = 1;
}  // namespace session_log

std::string encode_histogram(const Histogram& h) {
  Proto p;
  p.double_field(histo::kMin, h.min);
  p.double_field(histo::kMax, h.max);
  p.double_field(histo::kNum, h.num);
  p.double_field(histo::kSum, h.sum);
  p.double_field(histo::kSumSquares, h.sum_squares);
  p.packed_doubles(histo::kBucketLimit, h.bucket_limit);
  p.packed_doubles(histo::kBucket, h.bucket);
  return std::move(p.str());
}

Proto event_head(double wall_time, int64_t step) {
  Proto p;
  p.double_field(event::kWallTime, wall_time);
  p.int64_field(event::kStep, step);
  return p;
}

void append_le64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void append_le32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string host_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
    return "localhost";
  return host;
}

}  // namespace

std::string encode_file_version_event(double wall_time) {
  Proto p = event_head(wall_time, 0);
  p.bytes_field(event::kFileVersion, "brain.Event:2");
  return std::move(p.str());
}

std::string encode_summary_event(double wall_time,
                                 int64_t step,
                                 const std::vector<Value>& values) {
  Proto s;
  for (const Value& v : values) {
    Proto one;
    one.bytes_field(value::kTag, v.tag);
    if (v.histogram)
      one.bytes_field(value::kHisto, encode_histogram(*v.histogram));
    else
      one.float_field(value::kSimpleValue, static_cast<float>(v.scalar));
    s.bytes_field(summary::kValue, one.str());
  }
  Proto p = event_head(wall_time, step);
  p.bytes_field(event::kSummary, s.str());
  return std::move(p.str());
}

std::string encode_session_start_event(double wall_time, int64_t step) {
  Proto log;
  log.tag(session_log::kStatus, kVarint);
  log.varint(session_log::kStart);
  Proto p = event_head(wall_time, step);
  p.bytes_field(event::kSessionLog, log.str());
  return std::move(p.str());
}

uint32_t masked_crc32c(const char* data, size_t n) {
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc;
  crc.process_bytes(data, n);
  const uint32_t c = crc.checksum();
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::string frame_record(const std::string& data) {
  std::string out;
  out.reserve(data.size() + 16);
  append_le64(out, data.size());
  append_le32(out, masked_crc32c(out.data(), 8));
  out += data;
  append_le32(out, masked_crc32c(data.data(), data.size()));
  return out;
}

double wall_time_now() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

EventWriter::EventWriter(const std::string& folder, int64_t purge_from) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec)
    throw Error("cannot create the TensorBoard run folder [" + folder +
                "]: " + ec.message());
  const double now = wall_time_now();
  char base[64];
  std::snprintf(base, sizeof base, "events.out.tfevents.%010lld.",
                static_cast<long long>(now));
  const std::string stem = (std::filesystem::path(folder) / base).string() +
                           host_name() + "." + std::to_string(::getpid());
  // A new file for every process: a resumed run appends to the run folder,
  // never to an older file (TensorBoard reads them in name order).
  for (int n = 0; fd_ < 0; ++n) {
    path_ = n == 0 ? stem : stem + "." + std::to_string(n);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0 && errno != EEXIST)
      throw_write_error(path_, errno);
  }
  queue(encode_file_version_event(now));
  if (purge_from >= 0)
    queue(encode_session_start_event(now, purge_from));
  try {
    flush();
  } catch (...) {
    // Not even the header fits (a full disk): no empty file stays behind
    // to be taken for an events file.
    ::close(fd_);
    ::unlink(path_.c_str());
    throw;
  }
}

EventWriter::~EventWriter() {
  try {
    flush();
  } catch (...) {  // already reported by the flush that failed first
  }
  ::close(fd_);
}

void EventWriter::queue(const std::string& event) {
  pending_ += frame_record(event);
}

void EventWriter::write(int64_t step, const std::vector<Value>& values) {
  queue(encode_summary_event(wall_time_now(), step, values));
}

void EventWriter::flush() {
  if (pending_.empty())
    return;
  const std::string data = std::move(pending_);
  pending_.clear();
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      // Nothing half-written stays: TensorBoard reads up to the last
      // complete record, and so does a resumed run's reader.
      if (::ftruncate(fd_, good_size_) == 0)
        ::lseek(fd_, good_size_, SEEK_SET);
      throw_write_error(path_, err);
    }
    done += static_cast<size_t>(n);
  }
  good_size_ += static_cast<int64_t>(data.size());
}

}  // namespace mip::tensorboard
