/* limit.c: the per-key rate limit (a token bucket of rate_per_minute, as many in a burst) and
 * the bound on checks running at once; no privilege; called from http.c's threads. */
#include "agent/agent.h"

bool limit_take(struct agent_client *k, unsigned rate_per_minute)
{
	int64_t now = agent_now_mono();
	bool ok;

	pthread_mutex_lock(&k->lock);
	if (k->bucket_ns < 0) {
		k->tokens = rate_per_minute;
	} else {
		k->tokens += (double)(now - k->bucket_ns) * rate_per_minute / 60e9;
		if (k->tokens > rate_per_minute)
			k->tokens = rate_per_minute;
	}
	k->bucket_ns = now;
	ok = k->tokens >= 1.0;
	if (ok)
		k->tokens -= 1.0;
	pthread_mutex_unlock(&k->lock);
	return ok;
}

bool limit_enter(struct agent *a)
{
	if (atomic_fetch_add(&a->running, 1) < a->conf.max_concurrent)
		return true;
	atomic_fetch_sub(&a->running, 1);
	return false;
}

void limit_leave(struct agent *a)
{
	atomic_fetch_sub(&a->running, 1);
}
