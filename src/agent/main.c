/* main.c: acmegate-agent, placeholder until the agent lands; `probe` runs one check. */
#include <stdio.h>
#include <string.h>
#include "probe/probe.h"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "probe") == 0)
		return probe_main(argc - 1, argv + 1);
	fprintf(stderr, "acmegate-agent: not built yet\n");
	return 1;
}
