/* Fuzz target: the profile-set checkpoint loader over arbitrary bytes. Inputs starting with '#'
 * are taken as a bare payload and wrapped with a valid header and CRC first, so the fuzzer gets
 * past the checksum into the decoder; others are loaded as they are. A valid image is loaded,
 * saved again and reloaded (it must round-trip); anything else must be rejected cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "predict/checkpoint.h"
#include "predict/profile-set.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ProfileSetConfig cfg;
        profile_set_config_init_defaults(&cfg);
        ProfileSet *s = NULL;
        if (profile_set_new(&cfg, &s, NULL) < 0)
                return 0;
        uint8_t *wrapped = NULL;
        if (size > 0 && data[0] == '#') {
                size_t wrapped_size = 0;
                if (checkpoint_wrap(PROFILE_SET_CHECKPOINT_VERSION, data + 1, size - 1, &wrapped, &wrapped_size) < 0) {
                        profile_set_free(s);
                        return 0;
                }
                data = wrapped;
                size = wrapped_size;
        }
        if (profile_set_load_buffer(s, data, size, NULL) == 0) {
                ProfileEstimate e;
                profile_set_estimate(s, 0, 8, 1ull << 34, &e);
                ProfileWorkloadInfo info;
                for (size_t i = 0; i < profile_set_workload_count(s); i++)
                        (void) profile_set_workload_info(s, i, 0, &info);
                uint8_t *image = NULL;
                size_t image_size = 0;
                if (profile_set_save_buffer(s, &image, &image_size, NULL) == 0) {
                        if (profile_set_load_buffer(s, image, image_size, NULL) != 0)
                                abort();
                        free(image);
                }
        }
        free(wrapped);
        profile_set_free(s);
        return 0;
}
