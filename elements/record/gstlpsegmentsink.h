// The file sink inside lprecordbin: writes one segment below the recording
// root, and only ever whole units (MP4: the header, then complete moof+mdat
// fragments; Matroska: complete clusters), so a process killed at any moment
// leaves a file that players open. Not registered as a factory: lprecordbin
// creates it.
#pragma once

#include "safepath.h"

#include <gst/base/gstbasesink.h>

#include <memory>

G_BEGIN_DECLS

#define GST_TYPE_LP_SEGMENT_SINK (gst_lp_segment_sink_get_type())
G_DECLARE_FINAL_TYPE(GstLpSegmentSink, gst_lp_segment_sink, GST, LP_SEGMENT_SINK, GstBaseSink)

G_END_DECLS

enum class LpSegmentContainer { kMp4, kMatroska };

// Sets the root the sink's relative `location` is resolved against and the
// container it writes (which decides what a whole unit is). Call before the
// sink starts.
void gst_lp_segment_sink_configure(GstLpSegmentSink *sink,
                                   std::shared_ptr<const livepipe::record::Root> root,
                                   LpSegmentContainer container);
