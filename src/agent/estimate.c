/* The online peak estimate before predictions are available: the largest online CPU and memory
 * use seen in the last RECENT_PEAK_WINDOW_SEC seconds. One slot per second in a fixed ring, so a
 * burst of fast-reaction ticks neither allocates nor shortens the window. */
#include "agent/agent.h"
#include "util/macro.h"

void recent_peak_push(RecentPeak *p, uint64_t now_usec, double cpu_cores, uint64_t mem_bytes) {
        uint64_t second = now_usec / USEC_PER_SEC + 1;         /* + 1: 0 marks an empty slot */
        typeof(p->slots[0]) *slot = &p->slots[second % RECENT_PEAK_WINDOW_SEC];
        if (slot->second != second) {
                slot->second = second;
                slot->cpu_cores = cpu_cores;
                slot->mem_bytes = mem_bytes;
                return;
        }
        slot->cpu_cores = MAX(slot->cpu_cores, cpu_cores);
        slot->mem_bytes = MAX(slot->mem_bytes, mem_bytes);
}

OnlineEstimate recent_peak_get(const RecentPeak *p, uint64_t now_usec) {
        uint64_t second = now_usec / USEC_PER_SEC + 1;
        OnlineEstimate e = {};
        for (size_t i = 0; i < RECENT_PEAK_WINDOW_SEC; i++) {
                const typeof(p->slots[0]) *slot = &p->slots[i];
                if (slot->second == 0 || slot->second > second || second - slot->second >= RECENT_PEAK_WINDOW_SEC)
                        continue;
                e.cpu_cores = MAX(e.cpu_cores, slot->cpu_cores);
                e.mem_bytes = MAX(e.mem_bytes, slot->mem_bytes);
        }
        return e;
}
