// The `livepipe` subcommands. Each takes the arguments after its own name.
#pragma once

namespace livepipe::apps {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitInvalid = 2;

int cmd_launch(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_recording(int argc, char **argv);
int cmd_whip_publish(int argc, char **argv);
int cmd_whep_play(int argc, char **argv);
int cmd_rtmp(int argc, char **argv);

}  // namespace livepipe::apps
