/* Measures SQLite's cost for the declarations' layout, outside ciblage (issue 13): 930 944
 * declaration-like rows inserted in key order with the store's settings (16 KiB pages, 64 MiB
 * cache, DELETE journal, synchronous FULL, one transaction, multi-row upserts of 64 rows with
 * the writer's ON CONFLICT clause), then read back in key order.
 *
 *   gcc -O2 scripts/bench-sqlite-layout.c -lsqlite3 -o /tmp/layout
 *   /tmp/layout 0 /tmp/layout.db    # 20 columns, as the store has them
 *   /tmp/layout 1 /tmp/layout.db    # the 14 figures packed in one 112-byte BLOB
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc,char**argv){
  if(argc<3){fprintf(stderr,"usage: %s 0|1 FILE.db\n",argv[0]);return 2;}
  int packed=atoi(argv[1]); const char*path=argv[2]; int N=931000; int R=64;
  remove(path); sqlite3*db; sqlite3_open(path,&db);
  sqlite3_exec(db,"PRAGMA page_size=16384; PRAGMA cache_size=-65536; PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL",0,0,0);
  if(packed) sqlite3_exec(db,"CREATE TABLE d(ex INT NOT NULL, eq INT NOT NULL, na INT NOT NULL, dd INT NOT NULL, f BLOB, fid INT NOT NULL, li INT NOT NULL, PRIMARY KEY(ex,eq,na,dd)) WITHOUT ROWID",0,0,0);
  else sqlite3_exec(db,"CREATE TABLE d(ex INT NOT NULL, eq INT NOT NULL, na INT NOT NULL, dd INT NOT NULL, c1 INT,c2 INT,c3 INT,c4 REAL,c5 REAL,c6 REAL,c7 REAL,c8 REAL,c9 REAL,c10 REAL,c11 REAL,c12 REAL,c13 REAL,c14 REAL, fid INT NOT NULL, li INT NOT NULL, PRIMARY KEY(ex,eq,na,dd)) WITHOUT ROWID",0,0,0);
  int cols = packed?7:20;
  char sql[200000]; strcpy(sql,"INSERT INTO d VALUES ");
  for(int r=0;r<R;r++){strcat(sql,r?",(":"(");for(int c=0;c<cols;c++)strcat(sql,c?",?":"?");strcat(sql,")");}
  strcat(sql, packed? " ON CONFLICT(ex,eq,na,dd) DO UPDATE SET f=excluded.f, fid=excluded.fid, li=excluded.li WHERE d.fid<>excluded.fid"
                    : " ON CONFLICT(ex,eq,na,dd) DO UPDATE SET c1=excluded.c1,c2=excluded.c2,c3=excluded.c3,c4=excluded.c4,c5=excluded.c5,c6=excluded.c6,c7=excluded.c7,c8=excluded.c8,c9=excluded.c9,c10=excluded.c10,c11=excluded.c11,c12=excluded.c12,c13=excluded.c13,c14=excluded.c14, fid=excluded.fid, li=excluded.li WHERE d.fid<>excluded.fid");
  sqlite3_stmt*s; if(sqlite3_prepare_v2(db,sql,-1,&s,0)){printf("%s\n",sqlite3_errmsg(db));return 1;}
  double t0=now(); sqlite3_exec(db,"BEGIN",0,0,0);
  int row=0; double fig[14];
  for(int b=0;b<N/R;b++){
    sqlite3_reset(s); int p=1;
    for(int r=0;r<R;r++,row++){
      int ex=2021+row/240000, eq=(row%240000)/4, na=1+row%3, dd=20240101+row%4;
      sqlite3_bind_int(s,p++,ex);sqlite3_bind_int(s,p++,eq);sqlite3_bind_int(s,p++,na);sqlite3_bind_int(s,p++,dd);
      for(int k=0;k<14;k++) fig[k]= k<3 ? (double)(row%97+k) : (row%1000)*1.25+k*1000.5;
      if(packed){ sqlite3_bind_blob(s,p++,fig,112,SQLITE_TRANSIENT);} 
      else { for(int k=0;k<3;k++) sqlite3_bind_int(s,p++,(int)fig[k]); for(int k=3;k<14;k++) sqlite3_bind_double(s,p++,fig[k]); }
      sqlite3_bind_int(s,p++,1); sqlite3_bind_int(s,p++,row);
    }
    if(sqlite3_step(s)!=SQLITE_DONE){printf("%s\n",sqlite3_errmsg(db));return 1;}
  }
  sqlite3_exec(db,"COMMIT",0,0,0); double t1=now();
  sqlite3_stmt*q; sqlite3_prepare_v2(db, packed?"SELECT ex,eq,na,dd,f FROM d ORDER BY ex,eq,na,dd":"SELECT ex,eq,na,dd,c1,c2,c3,c4,c5,c6,c7,c8,c9,c10,c11,c12,c13,c14 FROM d ORDER BY ex,eq,na,dd",-1,&q,0);
  double sum=0; long n=0;
  while(sqlite3_step(q)==SQLITE_ROW){ n++; sum+=sqlite3_column_int64(q,1);
    if(packed){ const double*f=sqlite3_column_blob(q,4); double g[14]; memcpy(g,f,112); sum+=g[5]; }
    else { for(int k=4;k<18;k++) sum+=sqlite3_column_double(q,k);} }
  double t2=now();
  printf("%s insert %.3f s, read %.3f s, rows %ld\n", packed?"packed":"columns", t1-t0, t2-t1, n);
  return 0;
}
