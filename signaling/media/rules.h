// Which description a stream runs, and with which params: a WHIP POST with
// ?beauty=on gets the processed description, ?moderation=on the moderated
// one, otherwise the first config rule
// whose glob matches the stream name, otherwise the default. Other query
// params become params of the chosen description when it declares them. The
// description's "video-codec" param, when it declares one, lists the video
// codecs a publisher may send; the server sets it from the offer.
#pragma once

#include "config.h"
#include "offer.h"

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace livepipe::signaling::media {

// The param the server sets to the publisher's video codec ("h264", "vp8").
inline constexpr const char *kVideoCodecParam = "video-codec";

struct DescriptionRule {
  std::string match;  // glob on the stream name ('*', '?')
  std::filesystem::path file;
  std::map<std::string, std::string> params;
};

struct DescriptionChoice {
  std::filesystem::path file;
  std::map<std::string, std::string> params;
  // What the publisher may send (the description's video-codec values; H.264
  // when it declares none). Empty when the description takes no video.
  std::vector<Codec> video_codecs;
  bool sets_video_codec = false;  // the description declares video-codec
  // The description moderates (declares moderation-hook): its stream has an
  // lpmoderator with the id "moderator".
  bool moderated = false;
  std::set<std::string> declared;  // the server-set params (moderation_param) it declares
};

// Params of moderated descriptions the server sets (from the configuration's
// moderation section, or a rule): a publisher must not choose or switch off
// the hook that judges it.
bool moderation_param(const std::string &name);

// A preset name ("webrtc-publish-beauty") or a file (anything with an extension).
std::filesystem::path resolve_description(const std::string &name_or_file,
                                          const std::filesystem::path &presets_dir);

// "h264" for H.264, "vp8" for VP8: the values of the video-codec param.
std::string codec_param_value(Codec codec);

class DescriptionChooser {
 public:
  DescriptionChooser(std::filesystem::path fallback, std::filesystem::path beauty,
                     std::vector<DescriptionRule> rules,
                     std::vector<std::filesystem::path> include_dirs);

  // What ?moderation=on chooses, and the moderation-* params every
  // moderated description gets unless a rule sets them.
  void set_moderation(std::filesystem::path description,
                      std::map<std::string, std::string> defaults);

  // `query`: the WHIP POST's query params. The reason when one of them is
  // not acceptable (an unknown or invalid param, a bad beauty value).
  std::variant<DescriptionChoice, std::string> choose(
      const std::string &stream, const std::map<std::string, std::string> &query) const;

 private:
  std::filesystem::path fallback_;
  std::filesystem::path beauty_;
  std::filesystem::path moderated_;
  std::map<std::string, std::string> moderation_defaults_;
  std::vector<DescriptionRule> rules_;
  std::vector<std::filesystem::path> include_dirs_;
};

// Loads (without building) the default, the beauty and every rule's
// description with its params; one line per problem, each with its
// configuration path ("$.media.rules[1].params: ...").
std::vector<std::string> check_media_descriptions(const MediaSettings &media,
                                                  const std::filesystem::path &presets_dir);

}  // namespace livepipe::signaling::media
