/* Minimum-cost assignment: the Hungarian method with row and column
 * potentials and shortest augmenting paths (O(n^3)), on the matrix padded
 * square with zero costs. */
#include <errno.h>
#include <float.h>
#include <stdlib.h>

#include "an.h"

int an_assign(const double *cost, int rows, int cols, int *row_to_col)
{
    if (rows <= 0)
        return 0;
    for (int r = 0; r < rows; r++)
        row_to_col[r] = -1;
    if (cols <= 0)
        return 0;
    int n = rows > cols ? rows : cols;
    /* 1-based: u[0..n], v[0..n], col_row[0..n] (column -> row), way, minv, used */
    double *u = calloc((size_t)(n + 1) * 4, sizeof(double));
    int *iw = calloc((size_t)(n + 1) * 3, sizeof(int));
    if (!u || !iw) {
        free(u);
        free(iw);
        return -ENOMEM;
    }
    double *v = u + (n + 1), *minv = v + (n + 1);
    int *col_row = iw, *way = iw + (n + 1), *used = iw + 2 * (n + 1);
    for (int r = 1; r <= n; r++) {
        col_row[0] = r;
        int c0 = 0;
        for (int c = 0; c <= n; c++) {
            minv[c] = DBL_MAX;
            used[c] = 0;
        }
        do {
            used[c0] = 1;
            int r0 = col_row[c0], c1 = 0;
            double delta = DBL_MAX;
            for (int c = 1; c <= n; c++) {
                if (used[c])
                    continue;
                double a = (r0 <= rows && c <= cols) ? cost[(size_t)(r0 - 1) * cols + (c - 1)] : 0.0;
                double cur = a - u[r0] - v[c];
                if (cur < minv[c]) {
                    minv[c] = cur;
                    way[c] = c0;
                }
                if (minv[c] < delta) {
                    delta = minv[c];
                    c1 = c;
                }
            }
            for (int c = 0; c <= n; c++) {
                if (used[c]) {
                    u[col_row[c]] += delta;
                    v[c] -= delta;
                } else {
                    minv[c] -= delta;
                }
            }
            c0 = c1;
        } while (col_row[c0] != 0);
        do {
            int c1 = way[c0];
            col_row[c0] = col_row[c1];
            c0 = c1;
        } while (c0);
    }
    for (int c = 1; c <= cols; c++)
        if (col_row[c] >= 1 && col_row[c] <= rows)
            row_to_col[col_row[c] - 1] = c - 1;
    free(u);
    free(iw);
    return 0;
}
