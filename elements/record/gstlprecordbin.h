#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_LP_RECORD_BIN (gst_lp_record_bin_get_type())
G_DECLARE_FINAL_TYPE(GstLpRecordBin, gst_lp_record_bin, GST, LP_RECORD_BIN, GstBin)

#define GST_TYPE_LP_RECORD_FORMAT (gst_lp_record_format_get_type())
GType gst_lp_record_format_get_type(void);

GST_ELEMENT_REGISTER_DECLARE(lprecordbin);

G_END_DECLS
