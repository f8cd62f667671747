#include "curl.h"

#include <pthread.h>

#include "../../version.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void g3_curl_global_init(void)
{
	pthread_once(&global_once, global_init_once);
}

void g3_curl_setup(CURL *h, const g3_curl_conf *conf)
{
	static const g3_curl_conf none;
	const char *protocols;

	if (!conf)
		conf = &none;
	protocols = conf->protocols ? conf->protocols : "http,https";
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "gen3db/" GEN3DB_VERSION);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols);
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, conf->follow ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, conf->insecure ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, conf->insecure ? 0L : 2L);
	if (conf->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, conf->ca_file);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
			 conf->connect_timeout > 0 ? conf->connect_timeout : 30L);
	if (conf->timeout > 0)
		curl_easy_setopt(h, CURLOPT_TIMEOUT, conf->timeout);
	if (conf->low_speed) {
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	}
	if (conf->keepalive)
		curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (conf->errbuf) {
		conf->errbuf[0] = '\0';
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, conf->errbuf);
	}
}

CURL *g3_curl_easy(const g3_curl_conf *conf)
{
	CURL *h;

	g3_curl_global_init();
	h = curl_easy_init();
	if (h)
		g3_curl_setup(h, conf);
	return h;
}
