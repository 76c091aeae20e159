/* api_images.c - images of the local cloud (placeholder until the bakery's
 * image routes land). */
#include "api/api_int.h"

const api_route api_image_routes[] = {
	{NULL, NULL, NULL},
};
