#include "hooks.h"

#include "util/gstptr.h"
#include "util/json.h"
#include "verdict.h"

#include <gio/gio.h>
#include <libsoup/soup.h>

#include <csignal>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace livepipe::moderation {

std::string snapshot_json(const Snapshot &snapshot) {
  gsize size = 0;
  const void *data = snapshot.jpeg ? g_bytes_get_data(snapshot.jpeg, &size) : nullptr;
  GCharPtr image(g_base64_encode(static_cast<const guchar *>(data), size));
  json::ObjectBuilder body;
  body.set("stream_id", snapshot.stream_id)
      .set("sequence", static_cast<int64_t>(snapshot.sequence))
      .set("timestamp_ms", snapshot.timestamp_ms)
      .set("width", snapshot.width)
      .set("height", snapshot.height)
      .set("content_type", "image/jpeg")
      .set("image", image.get());
  if (GST_CLOCK_TIME_IS_VALID(snapshot.running_time)) {
    body.set("running_time_ns", static_cast<int64_t>(snapshot.running_time));
  }
  return body.to_string();
}

namespace {

constexpr gsize kReadChunk = 16 * 1024;

HookReply failure(const char *kind, std::string error) {
  HookReply reply;
  reply.kind = kind;
  reply.error = std::move(error);
  return reply;
}

bool cancelled(const GError *error) {
  return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

// Keeps the promise that `done` runs later, never inside submit().
void post_failure(HookDone done, HookReply reply) {
  auto *pending = new std::pair<HookDone, HookReply>(std::move(done), std::move(reply));
  GSource *idle = g_idle_source_new();
  g_source_set_callback(
      idle,
      [](gpointer data) -> gboolean {
        auto *p = static_cast<std::pair<HookDone, HookReply> *>(data);
        HookDone callback = std::move(p->first);
        callback(std::move(p->second));
        return G_SOURCE_REMOVE;
      },
      pending, [](gpointer data) { delete static_cast<std::pair<HookDone, HookReply> *>(data); });
  g_source_attach(idle, g_main_context_get_thread_default());
  g_source_unref(idle);
}

// ---------------------------------------------------------------- webhook

struct HttpRequest {
  GObjPtr<SoupSession> session;
  GObjPtr<SoupMessage> message;
  GObjPtr<GCancellable> cancellable;
  GObjPtr<GInputStream> body;
  std::string reply;
  HookDone done;
  std::string url;

  void finish(HookReply result) {
    HookDone callback = std::move(done);
    delete this;
    callback(std::move(result));
  }
  void read_more();
};

void on_read(GObject *source, GAsyncResult *result, gpointer data) {
  auto *request = static_cast<HttpRequest *>(data);
  GError *error = nullptr;
  GBytes *chunk = g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), result, &error);
  if (!chunk) {
    std::string message = cancelled(error) ? "cancelled" : error->message;
    g_clear_error(&error);
    request->finish(
        failure("transport", "reading the reply from " + request->url + " failed: " + message));
    return;
  }
  gsize size = 0;
  const auto *bytes = static_cast<const char *>(g_bytes_get_data(chunk, &size));
  if (size == 0) {
    g_bytes_unref(chunk);
    HookReply reply;
    reply.ok = true;
    reply.body = std::move(request->reply);
    request->finish(std::move(reply));
    return;
  }
  request->reply.append(bytes, size);
  g_bytes_unref(chunk);
  if (request->reply.size() > kMaxReplyBytes) {
    request->finish(failure("oversized", "reply from " + request->url + " is larger than " +
                                             std::to_string(kMaxReplyBytes) + " bytes"));
    return;
  }
  request->read_more();
}

void HttpRequest::read_more() {
  g_input_stream_read_bytes_async(body.get(), kReadChunk, G_PRIORITY_DEFAULT, cancellable.get(),
                                  on_read, this);
}

void on_sent(GObject *source, GAsyncResult *result, gpointer data) {
  auto *request = static_cast<HttpRequest *>(data);
  GError *error = nullptr;
  GInputStream *stream = soup_session_send_finish(SOUP_SESSION(source), result, &error);
  if (!stream) {
    std::string message = cancelled(error) ? "cancelled" : error->message;
    g_clear_error(&error);
    request->finish(failure("transport", "POST " + request->url + " failed: " + message));
    return;
  }
  request->body.reset(stream);
  const guint status = soup_message_get_status(request->message.get());
  if (status < 200 || status > 299) {
    const char *phrase = soup_message_get_reason_phrase(request->message.get());
    request->finish(failure("status", "POST " + request->url + " answered " +
                                          std::to_string(status) + " " + (phrase ? phrase : "")));
    return;
  }
  request->read_more();
}

class HttpHook final : public Hook {
 public:
  explicit HttpHook(HttpSettings settings)
      : settings_(std::move(settings)),
        session_(soup_session_new_with_options("user-agent", "livepipe-lpmoderator", nullptr)) {}

  void submit(const Snapshot &snapshot, GCancellable *cancellable, HookDone done) override {
    GObjPtr<SoupMessage> message(soup_message_new("POST", settings_.url.c_str()));
    if (!message) {
      post_failure(std::move(done), failure("transport", "invalid URL " + settings_.url));
      return;
    }
    auto *request = new HttpRequest;
    request->session.reset(
        G_TYPE_CHECK_INSTANCE_CAST(g_object_ref(session_.get()), SOUP_TYPE_SESSION, SoupSession));
    request->message = std::move(message);
    request->cancellable.reset(G_CANCELLABLE(g_object_ref(cancellable)));
    request->done = std::move(done);
    request->url = settings_.url;
    SoupMessageHeaders *headers = soup_message_get_request_headers(request->message.get());
    for (const auto &[name, value] : settings_.headers) {
      soup_message_headers_replace(headers, name.c_str(), value.c_str());
    }
    if (!settings_.bearer_token.empty()) {
      soup_message_headers_replace(headers, "Authorization",
                                   ("Bearer " + settings_.bearer_token).c_str());
    }
    std::string json = snapshot_json(snapshot);
    GBytes *payload = g_bytes_new(json.data(), json.size());
    soup_message_set_request_body_from_bytes(request->message.get(), "application/json", payload);
    g_bytes_unref(payload);
    soup_session_send_async(session_.get(), request->message.get(), G_PRIORITY_DEFAULT,
                            request->cancellable.get(), on_sent, request);
  }

 private:
  HttpSettings settings_;
  GObjPtr<SoupSession> session_;
};

// ---------------------------------------------------------------- command

struct ExecRequest {
  GObjPtr<GSubprocess> process;
  GObjPtr<GCancellable> cancellable;
  std::string reply;
  std::string command;
  HookReply pending_failure;  // set when reading ended badly; reported after exit
  bool failed = false;
  HookDone done;

  void kill_group() {
    // The command runs in its own process group so helpers it started die
    // with it instead of holding stdout open.
    if (const char *id = g_subprocess_get_identifier(process.get())) {
      const pid_t pid = static_cast<pid_t>(g_ascii_strtoll(id, nullptr, 10));
      if (pid > 0) {
        ::kill(-pid, SIGKILL);
      }
    }
    g_subprocess_force_exit(process.get());
  }
  void fail_and_reap(HookReply reason);
  void read_more();
};

void on_exited(GObject *source, GAsyncResult *result, gpointer data) {
  auto *request = static_cast<ExecRequest *>(data);
  GSubprocess *process = G_SUBPROCESS(source);
  g_subprocess_wait_finish(process, result, nullptr);
  HookReply reply;
  if (request->failed) {
    reply = std::move(request->pending_failure);
  } else if (g_subprocess_get_if_signaled(process)) {
    const int signal = g_subprocess_get_term_sig(process);
    reply = failure("exit", request->command + " was killed by signal " + std::to_string(signal) +
                                " (" + g_strsignal(signal) + ")");
  } else if (g_subprocess_get_exit_status(process) != 0) {
    reply = failure("exit", request->command + " exited with status " +
                                std::to_string(g_subprocess_get_exit_status(process)));
  } else {
    reply.ok = true;
    reply.body = std::move(request->reply);
  }
  HookDone done = std::move(request->done);
  delete request;
  done(std::move(reply));
}

void ExecRequest::fail_and_reap(HookReply reason) {
  failed = true;
  pending_failure = std::move(reason);
  kill_group();
  // No cancellable: the process has just been killed, so this completes.
  g_subprocess_wait_async(process.get(), nullptr, on_exited, this);
}

void on_stdout(GObject *source, GAsyncResult *result, gpointer data) {
  auto *request = static_cast<ExecRequest *>(data);
  GError *error = nullptr;
  GBytes *chunk = g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), result, &error);
  if (!chunk) {
    std::string message = cancelled(error) ? "cancelled" : error->message;
    g_clear_error(&error);
    request->fail_and_reap(
        failure("transport", "reading from " + request->command + ": " + message));
    return;
  }
  gsize size = 0;
  const auto *bytes = static_cast<const char *>(g_bytes_get_data(chunk, &size));
  if (size == 0) {
    g_bytes_unref(chunk);
    g_subprocess_wait_async(
        request->process.get(), request->cancellable.get(),
        [](GObject *process, GAsyncResult *res, gpointer data) {
          auto *request = static_cast<ExecRequest *>(data);
          GError *error = nullptr;
          if (!g_subprocess_wait_finish(G_SUBPROCESS(process), res, &error)) {
            g_clear_error(&error);
            // Cancelled while the command still ran after
            // closing stdout: kill it and reap it.
            request->fail_and_reap(
                failure("transport", request->command + " did not exit in time"));
            return;
          }
          g_subprocess_wait_async(G_SUBPROCESS(process), nullptr, on_exited, request);
        },
        request);
    return;
  }
  request->reply.append(bytes, size);
  g_bytes_unref(chunk);
  if (request->reply.size() > kMaxReplyBytes) {
    request->fail_and_reap(failure("oversized", request->command + " wrote more than " +
                                                    std::to_string(kMaxReplyBytes) + " bytes"));
    return;
  }
  request->read_more();
}

void ExecRequest::read_more() {
  g_input_stream_read_bytes_async(g_subprocess_get_stdout_pipe(process.get()), kReadChunk,
                                  G_PRIORITY_DEFAULT, cancellable.get(), on_stdout, this);
}

void own_process_group(gpointer) {
  setpgid(0, 0);
}

class ExecHook final : public Hook {
 public:
  ExecHook(std::vector<std::string> argv, std::string display)
      : argv_(std::move(argv)), display_(std::move(display)) {}

  void submit(const Snapshot &snapshot, GCancellable *cancellable, HookDone done) override {
    // The JPEG goes in through an in-memory file, not a pipe: nothing can
    // block on a command that does not read its stdin, and a command that
    // dies early cannot raise SIGPIPE in the pipeline's process.
    const int fd = memfd_create("livepipe-snapshot", MFD_CLOEXEC);
    if (fd < 0) {
      post_failure(std::move(done),
                   failure("spawn", std::string("memfd_create: ") + g_strerror(errno)));
      return;
    }
    gsize size = 0;
    const auto *data = static_cast<const char *>(g_bytes_get_data(snapshot.jpeg, &size));
    gsize written = 0;
    while (written < size) {
      const ssize_t n = ::write(fd, data + written, size - written);
      if (n <= 0) {
        ::close(fd);
        post_failure(std::move(done),
                     failure("spawn", std::string("writing the snapshot: ") + g_strerror(errno)));
        return;
      }
      written += static_cast<gsize>(n);
    }
    ::lseek(fd, 0, SEEK_SET);

    GObjPtr<GSubprocessLauncher> launcher(
        g_subprocess_launcher_new(static_cast<GSubprocessFlags>(G_SUBPROCESS_FLAGS_STDOUT_PIPE)));
    g_subprocess_launcher_take_stdin_fd(launcher.get(), fd);
    g_subprocess_launcher_set_child_setup(launcher.get(), own_process_group, nullptr, nullptr);
    g_subprocess_launcher_setenv(launcher.get(), "LIVEPIPE_STREAM_ID", snapshot.stream_id.c_str(),
                                 TRUE);
    g_subprocess_launcher_setenv(launcher.get(), "LIVEPIPE_SEQUENCE",
                                 std::to_string(snapshot.sequence).c_str(), TRUE);
    g_subprocess_launcher_setenv(launcher.get(), "LIVEPIPE_TIMESTAMP_MS",
                                 std::to_string(snapshot.timestamp_ms).c_str(), TRUE);
    g_subprocess_launcher_setenv(launcher.get(), "LIVEPIPE_WIDTH",
                                 std::to_string(snapshot.width).c_str(), TRUE);
    g_subprocess_launcher_setenv(launcher.get(), "LIVEPIPE_HEIGHT",
                                 std::to_string(snapshot.height).c_str(), TRUE);

    std::vector<const char *> argv;
    for (const auto &arg : argv_) {
      argv.push_back(arg.c_str());
    }
    argv.push_back(nullptr);
    GError *error = nullptr;
    GSubprocess *process = g_subprocess_launcher_spawnv(launcher.get(), argv.data(), &error);
    if (!process) {
      std::string message = error->message;
      g_clear_error(&error);
      post_failure(std::move(done), failure("spawn", "cannot run " + display_ + ": " + message));
      return;
    }
    auto *request = new ExecRequest;
    request->process.reset(process);
    request->cancellable.reset(G_CANCELLABLE(g_object_ref(cancellable)));
    request->command = display_;
    request->done = std::move(done);
    request->read_more();
  }

 private:
  std::vector<std::string> argv_;
  std::string display_;
};

}  // namespace

std::unique_ptr<Hook> make_http_hook(const HttpSettings &settings, std::string *error) {
  HookKind kind;
  if (!validate_hook_uri(settings.url, &kind, error) || kind != HookKind::Http) {
    if (error->empty()) {
      *error = "\"" + settings.url + "\" is not an http:// or https:// URL";
    }
    return nullptr;
  }
  return std::make_unique<HttpHook>(settings);
}

std::unique_ptr<Hook> make_exec_hook(const std::string &command, std::string *error) {
  const std::string line = command.substr(command.find(':') + 1);
  gint argc = 0;
  gchar **argv = nullptr;
  GError *gerror = nullptr;
  if (!g_shell_parse_argv(line.c_str(), &argc, &argv, &gerror)) {
    *error = "cannot split \"" + line + "\" into arguments: " + gerror->message;
    g_clear_error(&gerror);
    return nullptr;
  }
  std::vector<std::string> args(argv, argv + argc);
  g_strfreev(argv);
  if (args.empty()) {
    *error = "no command after \"exec:\"";
    return nullptr;
  }
  if (!g_path_is_absolute(args[0].c_str())) {
    *error = "the command \"" + args[0] + "\" must be an absolute path";
    return nullptr;
  }
  std::string display = args[0];
  return std::make_unique<ExecHook>(std::move(args), std::move(display));
}

}  // namespace livepipe::moderation

namespace livepipe::moderation {

bool validate_hook_uri(const std::string &uri, HookKind *kind, std::string *error) {
  if (uri.empty()) {
    *kind = HookKind::Signal;
    return true;
  }
  if (g_str_has_prefix(uri.c_str(), "exec:")) {
    *kind = HookKind::Exec;
    return make_exec_hook(uri, error) != nullptr;
  }
  *kind = HookKind::Http;
  GUri *parsed = g_uri_parse(uri.c_str(), G_URI_FLAGS_NONE, nullptr);
  const char *scheme = parsed ? g_uri_get_scheme(parsed) : nullptr;
  const bool ok =
      scheme &&
      (g_ascii_strcasecmp(scheme, "http") == 0 || g_ascii_strcasecmp(scheme, "https") == 0) &&
      g_uri_get_host(parsed) && *g_uri_get_host(parsed);
  if (parsed) {
    g_uri_unref(parsed);
  }
  if (!ok) {
    *error = "hook-uri \"" + uri + "\" is neither http(s)://host/... nor exec:/path/to/command";
  }
  return ok;
}

}  // namespace livepipe::moderation
